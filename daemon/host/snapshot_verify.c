/* Snapshots: verifying an archive and its evidence record. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "sign.h"
#include "snapshot_int.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

/* ---- verification ---- */

static int verify_blobs(const char *path, json_t *blobs, struct dw_buf *report)
{
	struct archive *a = snap_ar.archive_read_new();
	struct archive_entry *e;
	char *buf = dw_xmalloc(COPY_SIZE);
	int bad = 0, seen = 0;

	snap_ar.archive_read_support_format_tar(a);
	if (snap_ar.archive_read_open_filename(a, path, 1 << 16) !=
	    ARCHIVE_OK) {
		dw_buf_addf(report, "cannot read %s as a tar: %s\n", path,
			    snap_ar.archive_error_string(a));
		bad = 1;
	}
	while (!bad && snap_ar.archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = snap_ar.archive_entry_pathname(e);
		struct hout h;
		char dig[65];
		la_ssize_t n;

		if (strncmp(name, "blobs/sha256/", 13) || !name[13])
			continue;
		snap_hout_init(&h, -1);
		while ((n = snap_ar.archive_read_data(a, buf, COPY_SIZE)) > 0)
			EVP_DigestUpdate(h.md, buf, (size_t)n);
		snap_hout_final(&h, dig);
		seen++;
		if (n < 0 || strcmp(dig, name + 13)) {
			dw_buf_addf(report, "blob %s: content hashes to %s\n",
				    name + 13, dig);
			bad = 1;
		} else if (blobs && !json_object_get(blobs, name + 13)) {
			dw_buf_addf(report,
				    "blob %s: not in the evidence "
				    "record\n",
				    name + 13);
			bad = 1;
		}
	}
	if (!bad && blobs && (size_t)seen != json_object_size(blobs)) {
		dw_buf_addf(report,
			    "the archive holds %d blobs, the evidence "
			    "lists %zu\n",
			    seen, json_object_size(blobs));
		bad = 1;
	}
	snap_ar.archive_read_free(a);
	free(buf);
	return bad;
}

/* A subject of the Statement named `name`: its sha256 must be `want`
 * ("sha256:…"). */
static int check_subject(json_t *subjects, const char *name, const char *want,
			 struct dw_buf *report)
{
	json_t *s;
	size_t i;

	json_array_foreach(subjects, i, s)
	{
		const char *n = json_string_value(json_object_get(s, "name"));
		const char *d = json_string_value(json_object_get(
			json_object_get(s, "digest"), "sha256"));

		if (!n || strcmp(n, name))
			continue;
		if (d && !strcmp(d, want + 7))
			return 0;
		dw_buf_addf(report,
			    "the signed statement says %s has sha256 %s, it "
			    "has %s\n",
			    name, d ? d : "(nothing)", want + 7);
		return 1;
	}
	dw_buf_addf(report, "the signed statement does not name %s\n", name);
	return 1;
}

/*
 * PATH.intoto.jsonl: the envelope's signature with the public key, then
 * the Statement's subjects against what the files hash to now.
 */
static int verify_signature(const char *path, const char *pubkey,
			    const char *signing_key, const char *archive_sha,
			    struct dw_buf *report, struct dw_buf *signed_what)
{
	struct dw_buf sp = DW_BUF_INIT, ep = DW_BUF_INIT, data = DW_BUF_INIT;
	struct dw_buf payload = DW_BUF_INIT;
	json_t *env = NULL, *st = NULL;
	EVP_PKEY *k = NULL;
	char ev_sha[72];
	const char *b = strrchr(path, '/');
	int fd, bad = 1, err;

	dw_buf_addf(&sp, "%s.intoto.jsonl", path);
	dw_buf_addf(&ep, "%s.evidence.json", path);
	fd = open(sp.ptr, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		dw_buf_addf(report, "not signed: %s: %s\n", sp.ptr,
			    strerror(errno));
		goto out;
	}
	{
		struct stat fs;

		if (fstat(fd, &fs) < 0 || !S_ISREG(fs.st_mode)) {
			close(fd);
			dw_buf_addf(report, "%s is not a file\n", sp.ptr);
			goto out;
		}
	}
	dw_buf_init(&data, 1 << 20);
	err = dw_buf_read_fd(&data, fd);
	close(fd);
	if (err || dw_json_parse(&env, data.ptr, data.len, sp.ptr)) {
		dw_buf_addf(report, "%s: not a DSSE envelope: %s\n", sp.ptr,
			    dw_error_last());
		goto out;
	}
	err = pubkey ? dw_sign_pubkey_load(&k, pubkey)
		     : dw_sign_key_load(&k, signing_key, 0);
	if (err) {
		dw_buf_addf(report,
			    "no key to check the signature with (%s; "
			    "--key PUB takes an exported one)\n",
			    dw_error_last());
		goto out;
	}
	if (dw_dsse_verify(k, env, DW_INTOTO_PAYLOAD_TYPE, &payload, report))
		goto out;
	if (dw_json_parse(&st, payload.ptr, payload.len, "the statement") ||
	    strcmp(dw_json_path_str(st, "_type") ? dw_json_path_str(st, "_type")
						 : "",
		   DW_INTOTO_STATEMENT) ||
	    strcmp(dw_json_path_str(st, "predicateType")
			   ? dw_json_path_str(st, "predicateType")
			   : "",
		   DW_SNAPSHOT_PREDICATE)) {
		dw_buf_addf(report, "the signed payload is not a driftwatch "
				    "snapshot statement\n");
		goto out;
	}
	if (snap_file_sha256(ep.ptr, ev_sha)) {
		dw_buf_addf(report, "%s\n", dw_error_last());
		goto out;
	}
	bad = check_subject(json_object_get(st, "subject"), b ? b + 1 : path,
			    archive_sha, report);
	bad |= check_subject(json_object_get(st, "subject"),
			     strrchr(ep.ptr, '/') ? strrchr(ep.ptr, '/') + 1
						  : ep.ptr,
			     ev_sha, report);
	if (!bad && signed_what) {
		/* What the signature vouches for, as signed. */
		json_t *pr = json_object_get(st, "predicate");
		char keyid[72];

		dw_sign_keyid(k, keyid);
		dw_buf_addf(signed_what,
			    "container %s (%.12s) on %s, captured %s%s%s%s, "
			    "key %s",
			    dw_json_path_str(pr, "container.name")
				    ? dw_json_path_str(pr, "container.name")
				    : "?",
			    dw_json_path_str(pr, "container.id")
				    ? dw_json_path_str(pr, "container.id")
				    : "?",
			    dw_json_path_str(pr, "host")
				    ? dw_json_path_str(pr, "host")
				    : "?",
			    dw_json_path_str(pr, "capturedAt")
				    ? dw_json_path_str(pr, "capturedAt")
				    : "?",
			    dw_json_path_str(pr, "reason") ? " (" : "",
			    dw_json_path_str(pr, "reason")
				    ? dw_json_path_str(pr, "reason")
				    : "",
			    dw_json_path_str(pr, "reason") ? ")" : "", keyid);
	}
out:
	json_decref(env);
	json_decref(st);
	EVP_PKEY_free(k);
	dw_buf_release(&sp);
	dw_buf_release(&ep);
	dw_buf_release(&data);
	dw_buf_release(&payload);
	return bad;
}

int dw_snapshot_verify(const char *path, const char *pubkey,
		       const char *signing_key, struct dw_buf *report,
		       struct dw_buf *signed_what)
{
	struct dw_buf evpath = DW_BUF_INIT, data = DW_BUF_INIT;
	json_t *ev = NULL;
	char actual[72];
	const char *want;
	int fd, bad = 0, err = snap_load_archive();

	if (err)
		return err;
	dw_buf_addf(&evpath, "%s.evidence.json", path);
	fd = open(evpath.ptr, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = dw_error_errno(DW_EIO, errno, "cannot read %s",
				     evpath.ptr);
		goto out;
	}
	{
		struct stat st;

		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			err = dw_error_set(DW_EIO, "%s is not a file",
					   evpath.ptr);
			goto out;
		}
	}
	dw_buf_init(&data, (size_t)1 << 31); /* a 100,000-file record: 30 MB */
	err = dw_buf_read_fd(&data, fd);
	close(fd);
	if (err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", dw_error_last());
		err = dw_error_set(DW_EIO, "cannot read %s: %s", evpath.ptr,
				   why);
		goto out;
	}
	err = dw_json_parse(&ev, data.ptr, data.len, evpath.ptr);
	if (err) {
		dw_buf_addf(report, "%s\n", dw_error_last());
		err = DW_ERROR;
		goto out;
	}
	err = snap_file_sha256(path, actual);
	if (err)
		goto out;
	want = dw_json_path_str(ev, "archive.sha256");
	if (!want || strcmp(want, actual)) {
		dw_buf_addf(report, "%s: sha256 is %s, the evidence says %s\n",
			    path, actual, want ? want : "(nothing)");
		bad = 1;
	}
	if (!strcmp(dw_json_path_str(ev, "mode") ? dw_json_path_str(ev, "mode")
						 : "",
		    "image"))
		bad |= verify_blobs(path, json_object_get(ev, "blobs"), report);
	bad |= verify_signature(path, pubkey, signing_key, actual, report,
				signed_what);
	err = bad ? DW_ERROR : 0;
out:
	json_decref(ev);
	dw_buf_release(&evpath);
	dw_buf_release(&data);
	return err;
}
