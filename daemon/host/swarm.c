/* Swarm token attribution and rotation through the Engine API. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/engine.h"
#include "store.h"
#include "swarm.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

#define MAX_ATTEMPTS 5

const char *dw_swarm_secret_name(enum dw_swarm_secret what)
{
	return what == DW_SWARM_WORKER	  ? "worker token"
	       : what == DW_SWARM_MANAGER ? "manager token"
					  : "unlock key";
}

enum dw_swarm_secret dw_swarm_secret_of_role(const char *role)
{
	return !strcmp(role, "worker")	  ? DW_SWARM_WORKER
	       : !strcmp(role, "manager") ? DW_SWARM_MANAGER
					  : DW_SWARM_UNLOCK;
}

int dw_swarm_rule(const char *rule_id)
{
	return !strcmp(rule_id, "docker-swarm-join-token") ||
	       !strcmp(rule_id, "docker-swarm-unlock-key");
}

/* base36 of SHA-256(`pem`), zero-padded to 50, as swarmkit does it. */
static void ca_digest(char out[51], const char *pem)
{
	unsigned char dig[32];
	unsigned len = 0;
	char tmp[64];
	BIGNUM *v;
	int i = 0, j;

	EVP_Digest(pem, strlen(pem), dig, &len, EVP_sha256(), NULL);
	v = BN_bin2bn(dig, 32, NULL);
	while (v && !BN_is_zero(v) && i < 50)
		tmp[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[BN_div_word(
			v, 36)];
	while (i < 50)
		tmp[i++] = '0';
	for (j = 0; j < 50; j++)
		out[j] = tmp[49 - j];
	out[50] = '\0';
	BN_free(v);
}

static char *dup_str(json_t *root, const char *path)
{
	const char *s = dw_json_path_str(root, path);

	return dw_xstrdup(s ? s : "");
}

int dw_swarm_read(struct dw_docker *d, struct dw_swarm *out)
{
	json_t *sw = NULL, *uk = NULL;
	const char *root;
	int err = dw_docker_get_json(d, &sw, "/swarm");

	memset(out, 0, sizeof(*out));
	if (err) {
		json_decref(sw);
		return dw_error_set(DW_EUNSUPPORTED, "not a swarm manager: %s",
				    dw_error_last());
	}
	root = dw_json_path_str(sw, "TLSInfo.TrustRoot");
	if (!root || !dw_json_path_str(sw, "JoinTokens.Worker")) {
		json_decref(sw);
		return dw_error_set(DW_EUNSUPPORTED,
				    "not a swarm manager: "
				    "no join tokens in GET /swarm");
	}
	ca_digest(out->ca_digest, root);
	out->id = dup_str(sw, "ID");
	out->worker = dup_str(sw, "JoinTokens.Worker");
	out->manager = dup_str(sw, "JoinTokens.Manager");
	out->version =
		(uint64_t)json_integer_value(dw_json_path(sw, "Version.Index"));
	out->spec = json_incref(dw_json_path(sw, "Spec"));
	out->unlock_key = dw_xstrdup("");
	if (!dw_docker_get_json(d, &uk, "/swarm/unlockkey")) {
		free(out->unlock_key);
		out->unlock_key = dup_str(uk, "UnlockKey");
	}
	json_decref(uk);
	json_decref(sw);
	return 0;
}

/* A secret's memory, wiped before it is freed. */
static void wipe_free(char *p)
{
	if (p)
		explicit_bzero(p, strlen(p));
	free(p);
}

void dw_swarm_release(struct dw_swarm *s)
{
	free(s->id);
	wipe_free(s->worker);
	wipe_free(s->manager);
	wipe_free(s->unlock_key);
	json_decref(s->spec);
	explicit_bzero(s, sizeof(*s));
}

static void keyed_hex(const unsigned char key[32], const char *p, size_t n,
		      char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	HMAC(EVP_sha256(), key, 32, (const unsigned char *)p, n, mac, &len);
	dw_hex(out, mac, 32);
}

static int same(const struct dw_swarm *s, const char *a, const char *secret,
		size_t len)
{
	char hex[65];

	if (!s->sealed)
		return strlen(a) == len && !memcmp(a, secret, len);
	if (!*a)
		return 0;
	keyed_hex(s->key, secret, len, hex);
	return !strcmp(a, hex);
}

static char *seal_one(const struct dw_swarm *s, char *secret)
{
	char hex[65];

	if (!secret || !*secret)
		return secret;
	keyed_hex(s->key, secret, strlen(secret), hex);
	wipe_free(secret);
	return dw_xstrdup(hex);
}

int dw_swarm_seal(struct dw_swarm *s)
{
	if (s->sealed)
		return 0;
	if (RAND_bytes(s->key, sizeof(s->key)) != 1)
		return dw_error_set(DW_ERROR, "swarm: no random key");
	s->sealed = 1;
	s->worker = seal_one(s, s->worker);
	s->manager = seal_one(s, s->manager);
	s->unlock_key = seal_one(s, s->unlock_key);
	json_decref(s->spec);
	s->spec = NULL;
	return 0;
}

json_t *dw_swarm_sealed_json(const struct dw_swarm *s)
{
	char key[65];

	if (!s->sealed)
		return NULL;
	dw_hex(key, s->key, sizeof(s->key));
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", s->id,
			 "ca_digest", s->ca_digest, "worker", s->worker,
			 "manager", s->manager, "unlock_key", s->unlock_key,
			 "key", key);
}

int dw_swarm_from_sealed(struct dw_swarm *s, json_t *j)
{
	const char *id = json_string_value(json_object_get(j, "id")),
		   *ca = json_string_value(json_object_get(j, "ca_digest")),
		   *key = json_string_value(json_object_get(j, "key"));
	const char *const f[] = {"worker", "manager", "unlock_key"};
	char **to[] = {&s->worker, &s->manager, &s->unlock_key};
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!id || !ca || strlen(ca) >= sizeof(s->ca_digest) || !key ||
	    strlen(key) != 64)
		return DW_EINVAL;
	for (i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(key + 2 * i, "%2x", &v) != 1)
			return DW_EINVAL;
		s->key[i] = (unsigned char)v;
	}
	s->id = dw_xstrdup(id);
	snprintf(s->ca_digest, sizeof(s->ca_digest), "%s", ca);
	for (i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(j, f[i]));

		*to[i] = dw_xstrdup(v ? v : "");
	}
	s->sealed = 1;
	return 0;
}

json_t *dw_swarm_attribute(const struct dw_swarm *s, const char *rule_id,
			   const char *secret, size_t len)
{
	if (!strcmp(rule_id, "docker-swarm-unlock-key")) {
		int live =
			*s->unlock_key && same(s, s->unlock_key, secret, len);

		return json_pack("{s:s, s:s, s:s}", "cluster",
				 live ? s->id : "unknown", "role", "unlock-key",
				 "status", live ? "live" : "stale");
	}
	if (strcmp(rule_id, "docker-swarm-join-token"))
		return NULL;
	{
		/* SWMTKN-1-<digest>-… or SWMTKN-2-<0|1>-<digest>-… */
		size_t head = len > 7 && secret[7] == '2' ? 11 : 9;
		int ours = len >= head + 50 &&
			   !memcmp(secret + head, s->ca_digest, 50);
		const char *role = same(s, s->worker, secret, len) ? "worker"
				   : same(s, s->manager, secret, len)
					   ? "manager"
					   : "unknown";

		return json_pack(
			"{s:s, s:s, s:s}", "cluster", ours ? s->id : "foreign",
			"role", role, "status",
			ours && strcmp(role, "unknown") ? "live" : "stale");
	}
}

static const char *current(const struct dw_swarm *s, enum dw_swarm_secret w)
{
	return w == DW_SWARM_WORKER    ? s->worker
	       : w == DW_SWARM_MANAGER ? s->manager
				       : s->unlock_key;
}

/* The rule id whose fingerprint identifies this secret elsewhere. */
static const char *rule_of(enum dw_swarm_secret w)
{
	return w == DW_SWARM_UNLOCK ? "docker-swarm-unlock-key"
				    : "docker-swarm-join-token";
}

int dw_swarm_rotate(struct dw_docker *d, enum dw_swarm_secret what, int dry_run,
		    struct dw_rotation *out)
{
	static const char *const param[] = {"rotateWorkerToken",
					    "rotateManagerToken",
					    "rotateManagerUnlockKey"};
	struct dw_swarm s;
	struct dw_buf path = DW_BUF_INIT;
	char *old = NULL;
	int err = 0, attempt;

	memset(out, 0, sizeof(*out));
	for (attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
		err = dw_swarm_read(d, &s);
		if (err)
			break;
		if (what == DW_SWARM_UNLOCK && !*s.unlock_key) {
			dw_swarm_release(&s);
			err = dw_error_set(DW_EUNSUPPORTED,
					   "the swarm has no "
					   "unlock key (autolock is off)");
			break;
		}
		if (!old) {
			old = dw_xstrdup(current(&s, what));
			dw_secret_fingerprint(out->before, rule_of(what), old,
					      strlen(old));
		}
		out->attempts = attempt;
		if (dry_run) {
			dw_swarm_release(&s);
			break;
		}
		dw_buf_reset(&path);
		dw_buf_addf(&path, "/swarm/update?version=%llu&%s=true",
			    (unsigned long long)s.version, param[what]);
		err = dw_docker_post_json(d, NULL, path.ptr, s.spec);
		dw_swarm_release(&s);
		/* Somebody else updated the swarm meanwhile: read, retry. */
		if (err && strstr(dw_error_last(), "out of sequence")) {
			usleep(100000u * (unsigned)attempt);
			continue;
		}
		break;
	}
	if (!err && !dry_run) {
		err = dw_swarm_read(d, &s);
		if (!err && !strcmp(current(&s, what), old))
			err = dw_error_set(DW_ERROR, "the %s did not change",
					   dw_swarm_secret_name(what));
		if (!err)
			dw_secret_fingerprint(out->after, rule_of(what),
					      current(&s, what),
					      strlen(current(&s, what)));
		dw_swarm_release(&s);
	}
	free(old);
	dw_buf_release(&path);
	return err;
}

void dw_swarm_note(struct dw_store *st, const struct dw_swarm *s,
		   const char *ended_by)
{
	static const char *const roles[] = {"worker", "manager", "unlock-key"};
	const char *now[] = {s->worker, s->manager, s->unlock_key};
	char fp[72];
	size_t i;

	for (i = 0; i < 3; i++) {
		if (!now[i] || !*now[i])
			continue;
		dw_secret_fingerprint(fp,
				      i == 2 ? "docker-swarm-unlock-key"
					     : "docker-swarm-join-token",
				      now[i], strlen(now[i]));
		if (dw_store_swarm_secret_seen(st, s->id, roles[i], fp,
					       ended_by, (long long)time(NULL)))
			break;
	}
}

void dw_swarm_history(struct dw_store *st, json_t *attr,
		      const char *fingerprint)
{
	const char *status = json_string_value(json_object_get(attr, "status"));
	json_t *h;

	if (!st || !fingerprint || !status || strcmp(status, "stale"))
		return;
	h = dw_store_swarm_secret_find(st, fingerprint);
	if (!h)
		return;
	json_object_set(attr, "cluster", json_object_get(h, "swarm_id"));
	json_object_set(attr, "role", json_object_get(h, "role"));
	json_object_update_missing(attr, h);
	json_object_del(attr, "swarm_id");
	if (!json_object_get(attr, "rotated_by"))
		json_object_set_new(attr, "rotated_by", json_null());
	json_decref(h);
}
