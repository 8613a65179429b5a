#ifndef DW_CONFIG_H
#define DW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "driftwatch/engine.h"

/*
 * The scan configuration, `.driftwatch.yaml`:
 *
 *   max_file_size: 100MiB        # bytes, or with KiB/MiB/GiB
 *   disable: [jwt, generic-secret]
 *   allow_paths: ["vendor/" "**", "*.md"]   (one string; glob.h)
 *   ignore_fingerprints: ["sha256:…"]
 *   rules:
 *     - id: acme-token
 *       regex: 'acme_[a-z0-9]{32}'
 *       keywords: [acme_]          # optional; else the regex prefilters
 *       secret_group: 0            # optional
 *       entropy: 3.0               # optional
 *       severity: high             # optional (default medium)
 *       description: ACME API token
 *   command: [/usr/local/bin/revoke, --from-driftwatch]
 *                              # run (no shell) by scan --respond with each
 *                              # finding that is not a swarm secret as
 *                              # JSON on stdin, the secret in clear
 */
struct dw_config {
	struct dw_engine_config engine; /* points into the fields below */
	struct dw_custom_rule *rules;
	size_t nrules;
	char **disabled;
	size_t ndisabled;
	char **allow_paths;
	size_t nallow;
	char **ignored;
	size_t nignored;
	uint64_t max_file_size; /* 0: not set */
	char **command;		/* argv run for --respond, or NULL */
	size_t ncommand;
	int command_timeout; /* seconds; 0: DW_LEAK_COMMAND_TIMEOUT_S */
};

/*
 * Load `path` into `cfg` (zeroed first). Returns 0, DW_EIO (cannot read)
 * or DW_EINVAL: malformed YAML or an unknown key or bad value, with the
 * line number in the message.
 */
int dw_config_load(struct dw_config *cfg, const char *path);
void dw_config_release(struct dw_config *cfg);

/*
 * Add `src` to `dst`: its rules, disabled rules, allow paths and ignored
 * fingerprints; its max_file_size when `dst` has none. Never its
 * command: a configuration found in scanned content only describes that
 * content (dw_config_merge is how such a one is applied). `src` is
 * released.
 */
void dw_config_merge(struct dw_config *dst, struct dw_config *src);

/* Parse "123", "10KiB", "5MiB", "2GiB" (also KB/MB/GB as powers of 2). */
int dw_parse_size(uint64_t *out, const char *s);

/*
 * Does `path` (relative to the scan root) match an allow glob? The glob
 * dialect of driftwatch/glob.h, as dw_glob_match_rel(): a glob with no
 * '/' matches the last component; "vendor/" followed by '**' allows
 * everything below vendor/.
 */
int dw_config_path_allowed(const struct dw_config *cfg, const char *path);

#endif
