/*
 * libFuzzer target: the daemon's side of the scanner protocol, which
 * reads what a scanner taken over by its input may send (sandbox.c is
 * included whole, for its static functions). The first byte picks:
 *   0  a reply: take_finding(), then fields_json() and the fingerprint
 *   1  a finding against a piece of log lines: lines_verify()
 *   2  JSON's string escapes undone: dw_json_unescape(), in_decoded()
 *   3  json-file and CRI lines: dw_log_open_from(), _peek(), _text()
 *   4  where frames end: frames_upto(), dw_frames_complete()
 */
#include "../../daemon/host/sandbox.c"

static struct dw_engine *engine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_sandbox sb;
	const struct dw_rule_info *rules;
	size_t nrules;
	const char *p = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;

	if (!engine && dw_engine_new(&engine, NULL))
		abort();
	if (!size)
		return 0;
	nrules = dw_engine_rules(engine, &rules);
	memset(&sb, 0, sizeof(sb));
	sb.engine = engine;
	switch (data[0] % 5) {
	case 0: {
		struct sb_finding h;
		struct dw_finding f;
		uint32_t id = 0;

		if (n >= 8)
			memcpy(&id, p + 4, sizeof(id));
		if (!take_finding(&sb, p, (ssize_t)n, id, &h, &f)) {
			json_decref(fields_json(h.fields));
			fingerprint_matches(&f, 0);
		}
		break;
	}
	case 1: {
		struct sb_finding h;
		struct dw_finding f;
		size_t sl;

		if (n < sizeof(h) + 2)
			return 0;
		memcpy(&h, p, sizeof(h));
		p += sizeof(h);
		n -= sizeof(h);
		sl = 1 + (size_t)(unsigned char)p[0] % 64;
		p++;
		n--;
		if (sl > n)
			sl = n;
		memset(&f, 0, sizeof(f));
		f.rule = &rules[h.rule_index % nrules];
		f.secret = p;
		f.secret_len = sl;
		f.offset = h.offset;
		f.url_decoded = h.url_decoded & 1;
		dw_secret_fingerprint(f.fingerprint, f.rule->id, f.secret,
				      f.secret_len);
		{
			/* (h.lines: a stream's lines together, built once
			 * for the findings that name the same lines) */
			struct stream_cache c = {0};

			lines_verify(p + sl, n - sl, (int)(h.docker % 3), &h,
				     &f, 0, &c);
			dw_buf_release(&c.t);
		}
		break;
	}
	case 2: {
		struct dw_buf out = DW_BUF_INIT;
		struct dw_finding f;

		dw_json_unescape(p, n, &out);
		memset(&f, 0, sizeof(f));
		f.secret = "AKIA";
		f.secret_len = 4;
		f.url_decoded = n & 1;
		in_decoded(p, n, &f);
		dw_buf_release(&out);
		break;
	}
	case 3: {
		/* What the daemon reads of json-file and CRI lines itself. */
		struct dw_buf out = DW_BUF_INIT;
		enum dw_log_format fmt =
			n && (p[0] & 1) ? DW_LOG_CRI : DW_LOG_DOCKER_JSON;
		int other;

		if (!n)
			return 0;
		dw_log_open_from(fmt, p + 1, n - 1);
		dw_log_line_peek(fmt, p + 1, n - 1, &other);
		dw_log_line_text(fmt, p + 1, n - 1, &out);
		dw_buf_release(&out);
		break;
	}
	default: {
		uint64_t upto = 0, count;

		if (n < 8)
			return 0;
		memcpy(&upto, p, sizeof(upto));
		frames_upto(p + 8, n - 8, upto % (n + 1));
		dw_frames_complete(p + 8, n - 8, &count);
		break;
	}
	}
	return 0;
}
