/* libFuzzer target: .driftwatch.yaml parsing and engine compilation. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "driftwatch/config.h"
#include "driftwatch/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/dwfuzz-config-XXXXXX";
	struct dw_config cfg;
	struct dw_engine *e;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    !dw_config_load(&cfg, path)) {
		if (!dw_engine_new(&e, &cfg.engine))
			dw_engine_free(e);
		dw_config_release(&cfg);
	}
	close(fd);
	unlink(path);
	return 0;
}
