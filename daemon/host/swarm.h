#ifndef DW_SWARM_H
#define DW_SWARM_H

#include <jansson.h>
#include <stdint.h>

#include "docker.h"

/*
 * Leak response for Docker Swarm: attribute a leaked join token or unlock
 * key to this host's swarm, and rotate it through the Engine API. No token
 * is ever stored or printed by this module; only fingerprints are.
 */

struct dw_swarm {
	char *id;
	char ca_digest[51]; /* base36 of SHA-256 of the CA PEM */
	char *worker;	    /* the current join tokens */
	char *manager;
	char *unlock_key; /* "" when autolock is off */
	uint64_t version;
	json_t *spec;
	/* Sealed (dw_swarm_seal()): worker, manager and unlock_key hold
	 * HMAC-SHA256 digests under `key`, in hex, not the secrets. */
	int sealed;
	unsigned char key[32];
};

/*
 * For a process that must tell a live token without holding one (the
 * confined reader of `scan --git`: confine.h): each secret replaced by
 * its keyed digest (a key of this run, random), the secret wiped. Then
 * dw_swarm_attribute() compares digests. The JSON form carries it to
 * such a process; NULL/DW_EINVAL for what is not one.
 */
int dw_swarm_seal(struct dw_swarm *s);
json_t *dw_swarm_sealed_json(const struct dw_swarm *s);
int dw_swarm_from_sealed(struct dw_swarm *s, json_t *j);

/*
 * Read this host's swarm (GET /swarm, /swarm/unlockkey). DW_EUNSUPPORTED
 * when the node is not a swarm manager.
 */
int dw_swarm_read(struct dw_docker *d, struct dw_swarm *out);
void dw_swarm_release(struct dw_swarm *s);

/*
 * What a token is to this swarm: {cluster: <id>|"foreign"|"unknown",
 * role: "worker"|"manager"|"unlock-key"|"unknown", status: "live"|"stale"}.
 * NULL when `rule_id` is not a swarm rule.
 */
json_t *dw_swarm_attribute(const struct dw_swarm *s, const char *rule_id,
			   const char *secret, size_t len);

enum dw_swarm_secret { DW_SWARM_WORKER, DW_SWARM_MANAGER, DW_SWARM_UNLOCK };

/*
 * Note this swarm's current secrets (their fingerprints) in the store's
 * history; one that replaced another ended it (`ended_by`: "driftwatch"
 * after a rotation of ours, else "elsewhere").
 */
struct dw_store;
void dw_swarm_note(struct dw_store *st, const struct dw_swarm *s,
		   const char *ended_by);
/*
 * A stale attribution (dw_swarm_attribute()) completed from the history:
 * the role it had in this swarm, when it was current, who rotated it.
 */
void dw_swarm_history(struct dw_store *st, json_t *attr,
		      const char *fingerprint);

struct dw_rotation {
	char before[72]; /* fingerprints, "sha256:…" */
	char after[72];
	int attempts;
};

/*
 * Rotate one secret: POST /swarm/update with the current spec and
 * version, re-read and retried on a version conflict, then checked: the
 * old one must no longer be current. With `dry_run` nothing changes.
 */
int dw_swarm_rotate(struct dw_docker *d, enum dw_swarm_secret what, int dry_run,
		    struct dw_rotation *out);

const char *dw_swarm_secret_name(enum dw_swarm_secret what);
/* The secret a live attribution's role ("worker", "manager",
 * "unlock-key") names; also `driftwatch rotate --ROLE`. */
enum dw_swarm_secret dw_swarm_secret_of_role(const char *role);
/* Is `rule_id` one of the swarm rules dw_swarm_attribute() knows? */
int dw_swarm_rule(const char *rule_id);

#endif
