/*
 * driftwatchd: syslog over RELP, the client side (rsyslog's imrelp and
 * librelp are the server side), over the syslog output's TCP or TLS
 * connection (syslog_out.c).
 *
 * Why not librelp's client: it keeps what the receiver has not
 * answered, but does not tell its caller which messages were answered,
 * and a session the receiver ends with "serverclose" while a close is
 * pending looks closed cleanly. RELP's promise is the answer to each
 * message; outputs.c moves its cursor exactly past the messages the
 * receiver answered with 200, so this side is written here: frames
 * "TXNR SP COMMAND SP DATALEN [SP DATA] LF", an "open" with the offers
 * relp_version=0 and commands=syslog, one "syslog" command a message,
 * "rsp" answers in order (a RELP server answers in order), "close" at
 * the end, "serverclose" from the receiver ending a session.
 */
#include <limits.h>

#include "daemon.h"
#include "relp_out.h"
#include "syslog_out.h"
#include "driftwatch/clock.h"

#include "driftwatch/banned.h"

/* An answer frame is short ("TXNR rsp LEN CODE TEXT\n", the open's
 * offers): one longer than this is not from a RELP server. */
#define FRAME_MAX 4096
#define TXNR_MAX 999999999L

struct dwd_relp {
	struct dwd_syslog *conn;
	long txnr;		/* the next command's */
	char in[FRAME_MAX * 2]; /* received, not yet parsed */
	size_t nin;
};

/* The next transaction number (1 to 999,999,999 in a session). */
static long next_txnr(struct dwd_relp *c)
{
	return c->txnr++;
}

static void add_frame(struct dw_buf *b, long txnr, const char *cmd,
		      const char *data, size_t n)
{
	dw_buf_addf(b, "%ld %s %zu", txnr, cmd, n);
	if (n) {
		dw_buf_addch(b, ' ');
		dw_buf_add(b, data, n);
	}
	dw_buf_addch(b, '\n');
}

/* A number of at most 9 digits at *p, which moves past it: 0 read, 1
 * more must be received, -1 not one. */
static int number(const char **p, const char *end, long *out)
{
	const char *s = *p;
	long v = 0;

	while (*p < end && **p >= '0' && **p <= '9') {
		if (*p - s == 9)
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	if (*p == end)
		return 1;
	if (*p == s)
		return -1;
	*out = v;
	return 0;
}

/*
 * The next frame the receiver sent: 1 with it (its data at `data`), 0
 * when more must be received, DW_EUNREACHABLE when it is not RELP.
 */
static int parse_frame(struct dwd_relp *c, long *txnr, char *cmd,
		       size_t cmdsize, const char **data, size_t *ndata,
		       size_t *used)
{
	const char *p = c->in, *end = c->in + c->nin, *w;
	long len;
	int r;

	if ((r = number(&p, end, txnr)))
		goto out;
	if (*p++ != ' ')
		goto bad;
	for (w = p; p < end && *p != ' '; p++)
		if (*p < 'a' || *p > 'z' || p - w >= (long)cmdsize - 1)
			goto bad;
	if (p == end) {
		r = 1;
		goto out;
	}
	if (p == w)
		goto bad;
	snprintf(cmd, cmdsize, "%.*s", (int)(p - w), w);
	p++;
	if ((r = number(&p, end, &len)))
		goto out;
	if (len > FRAME_MAX || (len && *p++ != ' '))
		goto bad;
	if (end - p < len + 1) {
		r = 1;
		goto out;
	}
	if (p[len] != '\n')
		goto bad;
	*data = p;
	*ndata = (size_t)len;
	*used = (size_t)(p + len + 1 - c->in);
	return 1;
out:
	if (r > 0 && c->nin < sizeof(c->in))
		return 0;
bad:
	return dw_error_set(DW_EUNREACHABLE,
			    "the receiver does not speak RELP (a bad frame)");
}

/* The next frame, read as needed until `deadline`. */
static int next_frame(struct dwd_relp *c, long *txnr, char *cmd, size_t cmdsize,
		      char *data, size_t datasize, size_t *ndata,
		      long long deadline, const int *stop)
{
	for (;;) {
		const char *d = NULL;
		size_t used = 0, got;
		int r = parse_frame(c, txnr, cmd, cmdsize, &d, ndata, &used);

		if (r < 0)
			return r;
		if (r) {
			snprintf(data, datasize, "%.*s", (int)*ndata, d);
			memmove(c->in, c->in + used, c->nin - used);
			c->nin -= used;
			if (!strcmp(cmd, "serverclose"))
				return dw_error_set(DW_EUNREACHABLE,
						    "the receiver ended the "
						    "session (serverclose)");
			return 0;
		}
		r = dwd_syslog_read(c->conn, c->in + c->nin,
				    sizeof(c->in) - c->nin, &got, deadline,
				    stop);
		if (r)
			return r;
		c->nin += got;
	}
}

/*
 * The answer to command `txnr`: its code (200 is taken). `text` gets
 * the rest.
 */
static int answer(struct dwd_relp *c, long txnr, int *code, char *text,
		  size_t size, long long deadline, const int *stop)
{
	char cmd[32];
	long got = 0;
	size_t n = 0;
	int err = next_frame(c, &got, cmd, sizeof(cmd), text, size, &n,
			     deadline, stop);

	if (err)
		return err;
	if (strcmp(cmd, "rsp") || got != txnr || n < 3 || text[0] < '0' ||
	    text[0] > '9' || text[1] < '0' || text[1] > '9' || text[2] < '0' ||
	    text[2] > '9')
		return dw_error_set(DW_EUNREACHABLE,
				    "the receiver answered out of order "
				    "(%s %ld for %ld)",
				    cmd, got, txnr);
	*code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + text[2] - '0';
	return 0;
}

void dwd_relp_close(struct dwd_relp **pp, long timeout_ms)
{
	struct dwd_relp *c = *pp;

	if (!c)
		return;
	/* Polite: a close, its answer waited for a short while. */
	if (c->conn && timeout_ms > 0) {
		struct dw_buf b = DW_BUF_INIT;
		long long deadline = dw_mono_ms() + timeout_ms;
		long t = next_txnr(c);
		char text[FRAME_MAX + 1];
		int code;

		add_frame(&b, t, "close", "", 0);
		if (!dwd_syslog_write(c->conn, b.ptr, b.len, deadline, NULL))
			(void)answer(c, t, &code, text, sizeof(text), deadline,
				     NULL);
		dw_buf_release(&b);
	}
	dwd_syslog_close(&c->conn);
	free(c);
	*pp = NULL;
}

int dwd_relp_open(struct dwd_relp **out, const struct dw_output_cfg *cfg,
		  long timeout_ms)
{
	static const char offers[] = "relp_version=0\n"
				     "relp_software=driftwatchd\n"
				     "commands=syslog";
	struct dwd_relp *c = dw_xcalloc(1, sizeof(*c));
	struct dw_buf b = DW_BUF_INIT;
	long long deadline = dw_mono_ms() + timeout_ms;
	char text[FRAME_MAX + 1];
	const char *cmds;
	int err, code = 0;

	c->txnr = 1;
	err = dwd_syslog_open(&c->conn, cfg, timeout_ms);
	if (!err) {
		add_frame(&b, next_txnr(c), "open", offers, sizeof(offers) - 1);
		err = dwd_syslog_write(c->conn, b.ptr, b.len, deadline, NULL);
	}
	if (!err)
		err = answer(c, 1, &code, text, sizeof(text), deadline, NULL);
	dw_buf_release(&b);
	if (!err && code != 200)
		err = dw_error_set(DW_EUNREACHABLE,
				   "the receiver refused the session: %.200s",
				   text);
	/* Its offers: "commands=" lists what it takes, syslog among them. */
	cmds = err ? NULL : strstr(text, "\ncommands=");
	if (!err && (!cmds || !strstr(cmds, "syslog")))
		err = dw_error_set(DW_EUNREACHABLE,
				   "the receiver does not take RELP's syslog "
				   "command");
	if (err) {
		dwd_syslog_close(&c->conn);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

int dwd_relp_worn(const struct dwd_relp *c, size_t n)
{
	return c->txnr > TXNR_MAX - (long)n - 2;
}

/* Not later than `until` (dw_mono_ms(); 0: no limit). */
static long long capped(long long deadline, long long until)
{
	return until && until < deadline ? until : deadline;
}

int dwd_relp_send(struct dwd_relp *c, struct dwd_relp_batch *m, long timeout_ms,
		  long long until, const int *stop)
{
	struct dw_buf b = DW_BUF_INIT;
	long first = c->txnr;
	long long deadline = capped(dw_mono_ms() + timeout_ms, until);
	char text[FRAME_MAX + 1];
	int err = 0, code;

	m->sent = m->answered = 0;
	m->refused = 0;
	/* Transaction numbers go to 999,999,999: a session that would pass
	 * it is a new one (dwd_relp_worn()). */
	if (dwd_relp_worn(c, m->n))
		return dw_error_set(DW_EUNREACHABLE,
				    "RELP: the session's transaction numbers "
				    "are used up");
	while (!err && m->answered < m->n) {
		/* At most DWD_RELP_WINDOW unanswered: the receiver's
		 * answers never fill the connection while it waits for
		 * this side to read them. */
		while (m->sent < m->n &&
		       m->sent - m->answered < DWD_RELP_WINDOW) {
			size_t start = m->sent ? m->ends[m->sent - 1] : 0;

			add_frame(&b, next_txnr(c), "syslog", m->buf + start,
				  m->ends[m->sent] - start);
			m->sent++;
		}
		if (b.len) {
			err = dwd_syslog_write(c->conn, b.ptr, b.len, deadline,
					       stop);
			b.len = 0;
			if (err)
				break;
		}
		err = answer(c, first + (long)m->answered, &code, text,
			     sizeof(text), deadline, stop);
		if (!err && code != 200) {
			m->refused = 1;
			err = dw_error_set(DW_EUNREACHABLE,
					   "the receiver refused a message: "
					   "%.200s",
					   text);
		}
		if (!err) {
			m->answered++;
			/* The time limit is for progress. */
			deadline = capped(dw_mono_ms() + timeout_ms, until);
		}
	}
	dw_buf_release(&b);
	if (err && !m->refused) {
		/* Answers that came before the session broke count (a
		 * receiver that answered, then closed): read without
		 * waiting, the error kept. */
		char why[600];

		snprintf(why, sizeof(why), "%s", dw_error_last());
		while (m->answered < m->sent &&
		       !answer(c, first + (long)m->answered, &code, text,
			       sizeof(text), dw_mono_ms(), NULL) &&
		       code == 200)
			m->answered++;
		err = dw_error_set(DW_EUNREACHABLE, "%s", why);
	}
	return err;
}

int dwd_relp_alive(struct dwd_relp *c)
{
	/* The receiver says nothing unasked but "serverclose": anything
	 * to read ends the session (nothing of it is unanswered). */
	return c->nin == 0 && dwd_syslog_quiet(c->conn);
}
