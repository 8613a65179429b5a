/* driftwatchd: the writer watch's notes (who last changed which path). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "driftwatch/xmalloc.h"
#include "writer_notes.h"

#include "driftwatch/banned.h"

#define PROBES 8 /* the slots a note may take, from its hash's */
/* Containers with a lost note remembered at most: past that the oldest
 * mark goes (a container removed long ago, most likely), and stands for
 * every container's. */
#define LOST_MAX 1024

struct note {
	unsigned long long h;
	char *id, *path, *json;
	size_t len, size; /* the path's; all its strings' (counted) */
	int mixed;	  /* other processes changed it too meanwhile */
	long long time_us;
};

/* A container that lost a note untaken: the latest such note's time. */
struct lost {
	char *id;
	long long us;
};

struct dwd_notes {
	struct note *n;
	size_t slots, max_bytes, bytes;
	size_t hand; /* the next to drop when over max_bytes */
	unsigned char key[32];
	struct lost *lost;
	size_t nlost, lost_alloc;
	long long lost_all_us; /* events of any container lost up to then */
	/* The last container's mark looked up (a rescan takes its notes
	 * one path after another): its id, and its index or -1, good while
	 * `lost` is as it was then (gen). */
	char *last_id;
	long last_at;
	unsigned long gen, last_gen;
};

struct dwd_notes *dwd_notes_new(const unsigned char key[32], size_t slots,
				size_t bytes)
{
	struct dwd_notes *t;

	if (!slots || (slots & (slots - 1)))
		abort(); /* a programming error: the mask needs a power of 2 */
	t = dw_xcalloc(1, sizeof(*t));

	t->n = dw_xcalloc(slots, sizeof(*t->n));
	t->slots = slots;
	t->max_bytes = bytes;
	memcpy(t->key, key, sizeof(t->key));
	t->lost_all_us = LLONG_MIN;
	return t;
}

static void note_clear(struct dwd_notes *t, struct note *n)
{
	t->bytes -= n->size;
	free(n->id);
	free(n->path);
	free(n->json);
	memset(n, 0, sizeof(*n));
}

void dwd_notes_free(struct dwd_notes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->slots; i++)
		note_clear(t, &t->n[i]);
	for (size_t i = 0; i < t->nlost; i++)
		free(t->lost[i].id);
	free(t->lost);
	free(t->last_id);
	free(t->n);
	free(t);
}

static unsigned long long fnv(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* SHA-256 of the key, the id and the path (FNV-1a only if libcrypto
 * fails, which it does not for SHA-256). */
static unsigned long long note_hash(const struct dwd_notes *t, const char *id,
				    const char *path, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned long long h = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned mdlen = 0;

	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, t->key, sizeof(t->key)) == 1 &&
	    EVP_DigestUpdate(c, id, strlen(id) + 1) == 1 &&
	    EVP_DigestUpdate(c, path, len) == 1 &&
	    EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen >= 8)
		memcpy(&h, md, sizeof(h));
	else
		h = fnv(fnv(14695981039346656037ULL, id, strlen(id) + 1), path,
			len);
	EVP_MD_CTX_free(c);
	return h;
}

static int note_is(const struct note *n, unsigned long long h, const char *id,
		   const char *path, size_t len)
{
	return n->id && n->h == h && !strcmp(n->id, id) && n->len == len &&
	       !memcmp(n->path, path, len);
}

/* The path's own note in its run, or NULL. The whole run is looked at:
 * a slot before it may have been freed since it was put. */
static struct note *note_find(struct dwd_notes *t, unsigned long long h,
			      const char *id, const char *path, size_t len)
{
	for (size_t i = 0; i < PROBES; i++) {
		struct note *n = &t->n[(h + i) & (t->slots - 1)];

		if (note_is(n, h, id, path, len))
			return n;
	}
	return NULL;
}

static struct lost *lost_of(struct dwd_notes *t, const char *id)
{
	if (t->last_id && t->last_gen == t->gen && !strcmp(t->last_id, id))
		return t->last_at < 0 ? NULL : &t->lost[t->last_at];
	free(t->last_id);
	t->last_id = dw_xstrdup(id);
	t->last_gen = t->gen;
	t->last_at = -1;
	for (size_t i = 0; i < t->nlost; i++)
		if (!strcmp(t->lost[i].id, id)) {
			t->last_at = (long)i;
			break;
		}
	return t->last_at < 0 ? NULL : &t->lost[t->last_at];
}

void dwd_notes_lost(struct dwd_notes *t, const char *id, long long t_us)
{
	struct lost *l = lost_of(t, id);

	if (!l && t->nlost == LOST_MAX) {
		size_t old = 0;

		for (size_t i = 1; i < t->nlost; i++)
			if (t->lost[i].us < t->lost[old].us)
				old = i;
		/* Its container may still be watched: every container's
		 * takes reaching back that far say notes were lost. */
		dwd_notes_lost_all(t, t->lost[old].us);
		free(t->lost[old].id);
		t->lost[old] = t->lost[--t->nlost];
	}
	if (!l) {
		t->gen++;
		DW_ALLOC_GROW(t->lost, t->nlost + 1, t->lost_alloc);
		l = &t->lost[t->nlost++];
		l->id = dw_xstrdup(id);
		l->us = t_us;
	} else if (t_us > l->us) {
		l->us = t_us;
	}
}

/* Note `n` goes untaken: its container remembers when it was made. */
static void note_drop(struct dwd_notes *t, struct note *n)
{
	dwd_notes_lost(t, n->id, n->time_us);
	note_clear(t, n);
}

size_t dwd_notes_put(struct dwd_notes *t, const char *id, const char *path,
		     size_t len, const char *json, long long t_us)
{
	unsigned long long h = note_hash(t, id, path, len);
	struct note *n = note_find(t, h, id, path, len), *oldest = NULL;
	size_t dropped = 0;
	int mixed = 0;

	if (n) {
		/* Another process's change of the same path since: the
		 * note says there were more writers. */
		mixed = n->mixed || strcmp(n->json, json);
		note_clear(t, n);
	}
	for (size_t i = 0; i < PROBES && !n; i++) {
		struct note *o = &t->n[(h + i) & (t->slots - 1)];

		if (!o->id)
			n = o;
		else if (!oldest || o->time_us < oldest->time_us)
			oldest = o;
	}
	if (!n) {
		/* Every slot of its run holds another's note: the oldest
		 * goes. */
		n = oldest;
		note_drop(t, n);
		dropped++;
	}
	n->mixed = mixed;
	n->h = h;
	n->id = dw_xstrdup(id);
	n->path = dw_xmalloc(len + 1);
	memcpy(n->path, path, len);
	n->path[len] = '\0';
	n->len = len;
	n->json = dw_xstrdup(json);
	n->time_us = t_us;
	n->size = strlen(n->id) + len + strlen(n->json);
	t->bytes += n->size;
	/* Bounded in bytes too (long paths, long command lines). */
	for (size_t i = 0; t->bytes > t->max_bytes && i < t->slots; i++) {
		struct note *o = &t->n[t->hand++ & (t->slots - 1)];

		if (o != n && o->id) {
			note_drop(t, o);
			dropped++;
		}
	}
	return dropped;
}

char *dwd_notes_take(struct dwd_notes *t, const char *id, const char *path,
		     size_t len, long long since_us, int *mixed, int *lost)
{
	unsigned long long h = note_hash(t, id, path, len);
	struct note *n = note_find(t, h, id, path, len);
	const struct lost *l = lost_of(t, id);
	char *json = NULL;

	*mixed = 0;
	*lost = t->lost_all_us >= since_us || (l && l->us >= since_us);
	if (!n)
		return NULL;
	/* A note from before the container's last rescan is of a change
	 * that was not one (it wrote the same bytes): not this change's. */
	if (n->time_us >= since_us) {
		json = n->json;
		n->json = NULL;
		*mixed = n->mixed;
	}
	note_clear(t, n);
	return json;
}

void dwd_notes_forget(struct dwd_notes *t, const char *id, long long before_us)
{
	struct lost *l = lost_of(t, id);

	for (size_t i = 0; i < t->slots; i++)
		if (t->n[i].id && t->n[i].time_us < before_us &&
		    !strcmp(t->n[i].id, id))
			note_clear(t, &t->n[i]);
	if (l && l->us < before_us) {
		/* No window of its reaches back that far any more. */
		free(l->id);
		*l = t->lost[--t->nlost];
		t->gen++;
	}
}

void dwd_notes_lost_all(struct dwd_notes *t, long long t_us)
{
	if (t_us > t->lost_all_us)
		t->lost_all_us = t_us;
}
