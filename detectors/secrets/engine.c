/* The secret engine: Hyperscan finds the lines worth a look, PCRE2 (JIT)
 * extracts candidates on those lines only, validators and allowlists decide.
 * This file compiles an engine (rules, prefilter, its cache); scanner.c scans
 * with it. engine_int.h holds what they share. */
#include "engine_int.h"

#include "driftwatch/banned.h"

static int compile_regex(pcre2_code **out, const char *id, const char *re,
			 int multiline)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE where;
	int code;

	/* A match spanning lines must start on its line: the scanner sets
	 * the offset limit (a search from every line over the window after
	 * it would be quadratic), and asks for a partial match at the end
	 * of what has arrived (to wait for the rest). */
	*out = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
			     multiline == DW_ML_SPAN
				     ? PCRE2_USE_OFFSET_LIMIT |
					       PCRE2_NO_START_OPTIMIZE
				     : 0,
			     &code, &where, NULL);
	if (!*out) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		return dw_error_set(DW_EINVAL,
				    "rule %s: bad regex at offset %zu: %s", id,
				    (size_t)where, (char *)msg);
	}
	/* falls back if no JIT */
	pcre2_jit_compile(
		*out,
		PCRE2_JIT_COMPLETE |
			(multiline == DW_ML_SPAN ? PCRE2_JIT_PARTIAL_HARD : 0));
	return 0;
}

struct patterns {
	char **v;
	unsigned *flags, *ids;
	size_t n, alloc, falloc, ialloc;
};

static void pattern_add(struct patterns *p, char *pat, unsigned flags,
			unsigned rule)
{
	DW_ALLOC_GROW(p->v, p->n + 1, p->alloc);
	DW_ALLOC_GROW(p->flags, p->n + 1, p->falloc);
	DW_ALLOC_GROW(p->ids, p->n + 1, p->ialloc);
	p->v[p->n] = pat;
	p->flags[p->n] = flags;
	p->ids[p->n++] = rule;
}

static void patterns_release(struct patterns *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	free(p->flags);
	free(p->ids);
}

/* A literal keyword as a Hyperscan regex. */
static char *literal_pattern(const char *kw)
{
	struct dw_buf b = DW_BUF_INIT;

	for (; *kw; kw++) {
		if (isalnum((unsigned char)*kw))
			dw_buf_addch(&b, *kw);
		else
			dw_buf_addf(&b, "\\x%02x", (unsigned char)*kw);
	}
	return dw_buf_detach(&b, NULL);
}

static int is_disabled(const struct dw_engine_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; cfg && i < cfg->ndisabled; i++)
		if (!strcmp(cfg->disabled[i], id))
			return 1;
	return 0;
}

static int known_rule_id(const struct dw_engine_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; i < dw_builtin_rule_count; i++)
		if (!strcmp(dw_builtin_rules[i].info.id, id))
			return 1;
	for (i = 0; cfg && i < cfg->ncustom; i++)
		if (!strcmp(cfg->custom[i].id, id))
			return 1;
	return 0;
}

static int add_builtins(struct dw_engine *e, const struct dw_engine_config *cfg,
			struct patterns *all, struct patterns *named,
			EVP_MD_CTX *md)
{
	size_t i, k;
	int err = 0;

	for (i = 0; !err && i < dw_builtin_rule_count; i++) {
		const struct dw_builtin_rule *b = &dw_builtin_rules[i];
		/* A rule of file names has a database of its own, scanned
		 * in those files only: its prefilter (.pgpass: "h:5432:")
		 * fired on every timestamp of a log, 30 % of its scan. */
		struct patterns *p = b->file_names[0] ? named : all;
		struct rule *r;

		if (is_disabled(cfg, b->info.id))
			continue;
		r = &e->rules[e->nrules];
		r->info = b->info;
		r->group = b->secret_group;
		r->multiline = b->multiline;
		r->min_entropy = b->min_entropy;
		r->validate = b->validate;
		r->could_match = b->could_match;
		r->generic = b->generic;
		r->file_names = b->file_names[0] ? b->file_names : NULL;
		err = compile_regex(&r->re, b->info.id, b->regex, b->multiline);
		for (k = 0; !err && k < DW_MAX_PREFILTERS && b->prefilters[k];
		     k++) {
			/* A '.' alone is a dot ("hvs.", "dp.st."), as in
			 * "hooks.slack.com/": a wildcard there made Hyperscan
			 * confirm far more candidates (doppler-token's
			 * "dp.st." cost a third of a scan's time). */
			int is_lit = !strpbrk(b->prefilters[k], "[](){}?*+|\\");

			pattern_add(p,
				    is_lit ? literal_pattern(b->prefilters[k])
					   : dw_xstrdup(b->prefilters[k]),
				    b->caseless ? HS_FLAG_CASELESS : 0,
				    (unsigned)e->nrules);
			if (is_lit && !b->caseless)
				r->prefixes[r->nprefixes++] = b->prefilters[k];
		}
		/* (its regex and prefilters too: a rule changed in them
		 * changes what a cache holds without a new version) */
		EVP_DigestUpdate(md, b->info.id, strlen(b->info.id) + 1);
		EVP_DigestUpdate(md, b->regex, strlen(b->regex) + 1);
		for (k = 0; k < DW_MAX_PREFILTERS && b->prefilters[k]; k++)
			EVP_DigestUpdate(md, b->prefilters[k],
					 strlen(b->prefilters[k]) + 1);
		for (k = 0; k < 4 && b->file_names[k]; k++)
			EVP_DigestUpdate(md, b->file_names[k],
					 strlen(b->file_names[k]) + 1);
		{
			/* and the fields that say how it is read */
			int f[5] = {b->secret_group, b->caseless, b->multiline,
				    b->generic, b->could_match != NULL};

			EVP_DigestUpdate(md, f, sizeof(f));
			EVP_DigestUpdate(md, &b->min_entropy,
					 sizeof(b->min_entropy));
		}
		e->nrules++;
	}
	return err;
}

static char *own(struct dw_engine *e, const char *s)
{
	DW_ALLOC_GROW(e->owned, e->nowned + 1, e->owned_alloc);
	e->owned[e->nowned] = dw_xstrdup(s ? s : "");
	return e->owned[e->nowned++];
}

static int add_custom(struct dw_engine *e, const struct dw_engine_config *cfg,
		      struct patterns *p, EVP_MD_CTX *md)
{
	size_t i, k;
	int err = 0;

	for (i = 0; !err && cfg && i < cfg->ncustom; i++) {
		const struct dw_custom_rule *c = &cfg->custom[i];
		struct rule *r = &e->rules[e->nrules];
		char num[64];

		if (is_disabled(cfg, c->id))
			continue;
		r->info.id = own(e, c->id);
		r->info.description =
			own(e, c->description ? c->description : c->id);
		r->info.severity = c->severity;
		r->group = c->secret_group;
		r->min_entropy = c->min_entropy;
		err = compile_regex(&r->re, c->id, c->regex, 0);
		if (!err && c->secret_group > 0) {
			uint32_t groups = 0;

			pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT,
					   &groups);
			if ((uint32_t)c->secret_group > groups)
				err = dw_error_set(DW_EINVAL,
						   "rule %s: secret_group %d "
						   "but the regex has %u "
						   "groups",
						   c->id, c->secret_group,
						   groups);
		}
		for (k = 0; !err && k < c->nkeywords; k++) {
			pattern_add(p, literal_pattern(c->keywords[k]),
				    HS_FLAG_CASELESS, (unsigned)e->nrules);
			if (r->nprefixes < DW_MAX_PREFILTERS)
				r->prefixes[r->nprefixes++] =
					own(e, c->keywords[k]);
		}
		/* No keywords: Hyperscan prefilters on the regex itself. */
		if (!err && !c->nkeywords)
			pattern_add(p, dw_xstrdup(c->regex),
				    HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY,
				    (unsigned)e->nrules);
		snprintf(num, sizeof(num), ":%d:%.3f:%d", c->secret_group,
			 c->min_entropy, (int)c->severity);
		/* Each field NUL-ended: ("tok", "en") is not ("toke", "n"). */
		EVP_DigestUpdate(md, c->id, strlen(c->id) + 1);
		EVP_DigestUpdate(md, c->regex, strlen(c->regex) + 1);
		for (k = 0; k < c->nkeywords; k++)
			EVP_DigestUpdate(md, c->keywords[k],
					 strlen(c->keywords[k]) + 1);
		EVP_DigestUpdate(md, num, strlen(num));
		e->nrules++;
	}
	return err;
}

/* Key of a compiled prefilter: the patterns, their flags, Hyperscan. */
static void prefilter_key(char out[65], const struct patterns *p)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	size_t i;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, hs_version(), strlen(hs_version()) + 1);
	for (i = 0; i < p->n; i++) {
		EVP_DigestUpdate(md, p->v[i], strlen(p->v[i]) + 1);
		EVP_DigestUpdate(md, &p->flags[i], sizeof(p->flags[i]));
		EVP_DigestUpdate(md, &p->ids[i], sizeof(p->ids[i]));
	}
	EVP_DigestFinal_ex(md, dig, &len);
	EVP_MD_CTX_free(md);
	dw_hex(out, dig, 32);
}

/*
 * A cached database is only trusted from a regular file of ours that
 * nobody else can write; anything odd means compiling afresh.
 */
static hs_database_t *cache_load(const char *path)
{
	hs_database_t *db = NULL;
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) || st.st_size <= 0 ||
	    st.st_size > (64 << 20)) {
		close(fd);
		return NULL;
	}
	data = dw_xmalloc((size_t)st.st_size);
	if (read(fd, data, (size_t)st.st_size) == st.st_size &&
	    hs_deserialize_database(data, (size_t)st.st_size, &db) !=
		    HS_SUCCESS)
		db = NULL;
	free(data);
	close(fd);
	return db;
}

static void cache_store(const char *path, const hs_database_t *db)
{
	struct dw_buf tmp = DW_BUF_INIT;
	char *bytes = NULL;
	size_t len = 0;
	int fd;

	if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return;
	dw_buf_addf(&tmp, "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd >= 0) {
		int ok = write(fd, bytes, len) == (ssize_t)len;

		if (close(fd) || !ok || rename(tmp.ptr, path))
			unlink(tmp.ptr);
	}
	free(bytes); /* hs's allocator is malloc */
	dw_buf_release(&tmp);
}

static int compile_prefilter(struct dw_engine *e, struct patterns *p,
			     const char *cache_dir, hs_database_t **db,
			     unsigned **pat_rule)
{
	hs_compile_error_t *cerr = NULL;
	struct dw_buf cpath = DW_BUF_INIT;
	unsigned *ids = dw_xcalloc(p->n ? p->n : 1, sizeof(unsigned));
	char key[65];
	size_t i;
	int err = 0, cached = 0;

	for (i = 0; i < p->n; i++)
		ids[i] = (unsigned)i;
	if (cache_dir && p->n) {
		prefilter_key(key, p);
		dw_buf_addf(&cpath, "%s/prefilter-%.32s.hsdb", cache_dir, key);
		*db = cache_load(cpath.ptr);
		cached = *db != NULL;
	}
	*pat_rule = p->ids;
	p->ids = NULL;
	if (!*db && p->n &&
	    hs_compile_multi((const char *const *)p->v, p->flags, ids,
			     (unsigned)p->n, HS_MODE_BLOCK, NULL, db,
			     &cerr) != HS_SUCCESS) {
		int at = cerr->expression;

		err = dw_error_set(DW_EINVAL,
				   "rule %s: cannot build its "
				   "prefilter: %s",
				   at >= 0 ? e->rules[(*pat_rule)[at]].info.id
					   : "?",
				   cerr->message);
		hs_free_compile_error(cerr);
	} else if (cpath.len && *db && !cached) {
		cache_store(cpath.ptr, *db);
	}
	dw_buf_release(&cpath);
	free(ids);
	return err;
}

int eng_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dw_engine_new(struct dw_engine **out, const struct dw_engine_config *cfg)
{
	struct dw_engine *e = dw_xcalloc(1, sizeof(*e));
	struct patterns p = {0}, pn = {0};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned diglen = 0;
	size_t i;
	int err = 0;

	for (i = 0; cfg && i < cfg->ndisabled && !err; i++)
		if (!known_rule_id(cfg, cfg->disabled[i]))
			err = dw_error_set(DW_EINVAL,
					   "cannot disable unknown "
					   "rule '%s'",
					   cfg->disabled[i]);
	e->rules =
		dw_xcalloc(dw_builtin_rule_count + (cfg ? cfg->ncustom : 0) + 1,
			   sizeof(*e->rules));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	/* The built-in rules are named by id, regex, prefilters and
	 * fields: this tag (bumped with any change to a validator, a
	 * could_match function or how the scanner reads, such as archives
	 * in git blobs) and the version stand for the rest. */
	EVP_DigestUpdate(md, "driftwatch-rules-3 " DW_VERSION,
			 strlen("driftwatch-rules-3 " DW_VERSION));
	if (!err)
		err = add_builtins(e, cfg, &p, &pn, md);
	if (!err)
		err = add_custom(e, cfg, &p, md);
	if (!err)
		err = compile_prefilter(e, &p, cfg ? cfg->cache_dir : NULL,
					&e->db, &e->pat_rule);
	if (!err)
		err = compile_prefilter(e, &pn, cfg ? cfg->cache_dir : NULL,
					&e->named_db, &e->named_pat_rule);
	e->redact_keep = cfg && cfg->redact_keep_set ? cfg->redact_keep
						     : DW_REDACT_KEEP_DEFAULT;
	if (e->redact_keep < 0 || e->redact_keep > DW_REDACT_KEEP_MAX)
		e->redact_keep = DW_REDACT_KEEP_DEFAULT;
	/*
	 * Everything else that changes what a blob yields: the ignored
	 * fingerprints (an ignore removed must find its secret again) and
	 * the redaction (caches keep the redacted form).
	 */
	{
		char keep[32];

		for (i = 0; cfg && i < cfg->nignored; i++)
			EVP_DigestUpdate(md, cfg->ignored[i],
					 strlen(cfg->ignored[i]) + 1);
		snprintf(keep, sizeof(keep), "redact:%d", e->redact_keep);
		EVP_DigestUpdate(md, keep, strlen(keep));
	}
	EVP_DigestFinal_ex(md, dig, &diglen);
	EVP_MD_CTX_free(md);
	memcpy(e->digest, "sha256:", 7);
	dw_hex(e->digest + 7, dig, 32);
	patterns_release(&p);
	patterns_release(&pn);
	e->infos = dw_xcalloc(e->nrules + 1, sizeof(*e->infos));
	for (i = 0; i < e->nrules; i++)
		e->infos[i] = e->rules[i].info;
	for (i = 0; cfg && i < cfg->nignored; i++) {
		DW_ALLOC_GROW(e->ignored, e->nignored + 1, e->ignored_alloc);
		e->ignored[e->nignored++] = dw_xstrdup(cfg->ignored[i]);
	}
	if (e->nignored > 1)
		qsort(e->ignored, e->nignored, sizeof(char *), eng_cmp_str);
	if (err) {
		dw_engine_free(e);
		return err;
	}
	*out = e;
	return 0;
}

void dw_engine_free(struct dw_engine *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->nrules; i++)
		pcre2_code_free(e->rules[i].re);
	/* A rule that failed to compile is not counted but may have code. */
	if (e->rules)
		pcre2_code_free(e->rules[e->nrules].re);
	free(e->rules);
	free(e->infos);
	hs_free_database(e->db);
	free(e->pat_rule);
	hs_free_database(e->named_db);
	free(e->named_pat_rule);
	for (i = 0; i < e->nignored; i++)
		free(e->ignored[i]);
	free(e->ignored);
	for (i = 0; i < e->nowned; i++)
		free(e->owned[i]);
	free(e->owned);
	free(e);
}

size_t dw_engine_rules(const struct dw_engine *e,
		       const struct dw_rule_info **rules)
{
	*rules = e->infos;
	return e->nrules;
}

const char *dw_engine_digest(const struct dw_engine *e)
{
	return e->digest;
}
