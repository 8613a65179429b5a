/*
 * libFuzzer target: every decoder (gzip, Docker json-file and local
 * logs, CRI pod logs, mbox, .eml, Slack export files, archives, container
 * images, plain) on
 * arbitrary bytes. The first byte picks the decoder by choosing the file name
 * the input is stored under.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driftwatch/engine.h"
#include "driftwatch/sources.h"

static struct dw_engine *engine;
static struct dw_scanner *scanner;

static int on_finding(const struct dw_finding *f, const struct dw_source *src,
		      void *ctx)
{
	(void)ctx;
	return f->secret_len == 0 || !src->kind;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"x.gz",
					    "c-json.log",
					    "m.mbox",
					    "m.eml",
					    "slack.json",
					    "p.txt",
					    "c-json.log.1.gz",
					    "container-cached.log",
					    "container-cached.log.1.gz",
					    "ns_pod_uid/c/0.log",
					    "ns_pod_uid/c/0.log.20261130-1.gz",
					    "a.zip",
					    "a.tar.gz",
					    "image.tar"};
	struct dw_source_opts opts = {.max_file_size = 1 << 20};
	enum dw_scan_outcome outcome;
	char dir[] = "/tmp/dwfuzz-XXXXXX", path[96], sub[64];
	unsigned pick;
	FILE *f;

	if (!engine &&
	    (dw_engine_new(&engine, NULL) || dw_scanner_new(&scanner, engine)))
		return 0;
	if (size < 1 || !mkdtemp(dir))
		return 0;
	pick = data[0] % (sizeof(names) / sizeof(names[0]));
	snprintf(sub, sizeof(sub), "%s/ns_pod_uid", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/ns_pod_uid/c", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, names[pick]);
	f = fopen(path, "wb");
	if (f) {
		fwrite(data + 1, 1, size - 1, f);
		fclose(f);
		if (pick == 13) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);

			if (fd >= 0) {
				dw_image_scan(scanner, fd, path, on_finding,
					      NULL);
				close(fd);
			}
		} else if (pick == 4)
			dw_scan_slack_file(scanner, path, path, "general",
					   &opts, on_finding, NULL);
		else
			dw_scan_path(scanner, path, path, &opts, on_finding,
				     NULL, &outcome);
		unlink(path);
	}
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/ns_pod_uid", dir);
	rmdir(sub);
	rmdir(dir);
	return 0;
}
