/*
 * libFuzzer target: the secret engine on arbitrary bytes, fed in pieces
 * whose sizes come from the input, so chunk and line boundaries move.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "driftwatch/engine.h"

static struct dw_engine *engine;
static struct dw_scanner *scanner;

static int on_finding(const struct dw_finding *f, void *ctx)
{
	(void)ctx;
	/* Touch what a caller would read. */
	return f->secret_len == 0 || f->line == 0 || f->column == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (!engine &&
	    (dw_engine_new(&engine, NULL) || dw_scanner_new(&scanner, engine)))
		return 0;
	if (size < 1)
		return 0;
	step = 1 + data[0] * 37u;
	dw_scan_begin(scanner, 1, on_finding, NULL);
	for (size_t off = 1; off < size; off += step)
		dw_scan_feed(scanner, (const char *)data + off,
			     size - off < step ? size - off : step);
	dw_scan_finish(scanner);
	return 0;
}
