/*
 * store_fill DB ROWS CONTAINERS [BATCH]: a store with ROWS drift events
 * over CONTAINERS containers, BATCH (500) a transaction and container,
 * written through the store's own API (chained as driftwatchd chains
 * them), for tests/bench/verify_bench.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int main(int argc, char **argv)
{
	struct dw_store *s = NULL;
	long rows, conts, batch = 500, done = 0;

	if (argc < 4 || argc > 5 || (rows = strtol(argv[2], NULL, 10)) < 1 ||
	    (conts = strtol(argv[3], NULL, 10)) < 1 ||
	    (argc == 5 &&
	     ((batch = strtol(argv[4], NULL, 10)) < 1 || batch > 500))) {
		fprintf(stderr, "usage: store_fill DB ROWS CONTAINERS [BATCH "
				"(1-500)]\n");
		return 2;
	}
	if (dw_store_open(&s, argv[1], 0))
		return 1;
	while (done < rows) {
		/* A rescan's worth: 500 changes of one container. */
		struct dw_change_row r[500];
		char paths[500][32], id[80];
		long n = rows - done < batch ? rows - done : batch, i;

		snprintf(id, sizeof(id), "%064ld", (done / batch) % conts);
		for (i = 0; i < n; i++) {
			int len = snprintf(paths[i], sizeof(paths[i]),
					   "/var/tmp/f%ld", done + i);

			memset(&r[i], 0, sizeof(r[i]));
			r[i].path = paths[i];
			r[i].path_len = (size_t)len;
			r[i].kind = 'A';
			r[i].mode = 0100644;
			r[i].executable = r[i].elf = -1;
			r[i].severity = DW_SEV_MEDIUM;
		}
		if (dw_store_begin(s) ||
		    dw_store_apply_changes(s, id, r, (size_t)n, "rescan",
					   1796000000000000LL + done) ||
		    dw_store_commit(s)) {
			fprintf(stderr, "store_fill: failed\n");
			return 1;
		}
		done += n;
	}
	dw_store_close(s);
	return 0;
}
