/* mountinfo parsing (daemon/mounts.c) on a fixture: which overlays are
 * containers, their upper and lower dirs, escapes, skips, duplicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "driftwatch/buf.h"
#include "mounts.h"

static char *fixture(void)
{
	FILE *f = fopen(DW_TEST_DATA "/mountinfo/host.txt", "r");
	char *text = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_true(fread(text, 1, (1 << 16) - 1, f) > 0);
	fclose(f);
	return text;
}

static const struct dw_mount *find(const struct dw_mount *v, size_t n,
				   const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static void test_overlays(void **state)
{
	char *text = fixture();
	struct dw_mount *v;
	size_t n;
	const struct dw_mount *m;

	(void)state;
	assert_int_equal(dw_mounts_parse(text, NULL, &v, &n), 0);
	/* docker, containerd, podman, the escaped one (once: /mnt/again has
	 * the same upper dir), the relative one (unreadable, said); not the
	 * lower-only one. */
	assert_int_equal(n, 5);
	m = find(v, n, "/mnt/relative");
	assert_non_null(m);
	assert_non_null(m->bad);
	m = find(v, n,
		 "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"
		 "0123abcd/rootfs");
	assert_non_null(m);
	assert_string_equal(m->runtime, "containerd");
	assert_string_equal(m->upper,
			    "/var/lib/containerd/io.containerd."
			    "snapshotter.v1.overlayfs/snapshots/7/fs");
	assert_int_equal(m->nlowers, 2);
	assert_string_equal(m->lowers[1], "/var/lib/containerd/io.containerd."
					  "snapshotter.v1.overlayfs/snapshots/"
					  "2/fs");
	assert_memory_equal(m->id, "mount:", 6);
	assert_int_equal(strlen(m->id), 6 + 16);
	m = find(v, n, "/var/lib/containers/storage/overlay/ffee/merged");
	assert_non_null(m);
	assert_string_equal(m->runtime, "containers-storage");
	/* \040 is a space; \134 a backslash, which in overlayfs' lowerdir
	 * list makes the colon after it part of the name. */
	m = find(v, n, "/mnt/with space");
	assert_non_null(m);
	assert_string_equal(m->upper, "/srv/up per");
	assert_int_equal(m->nlowers, 2);
	assert_string_equal(m->lowers[0], "/srv/low:er");
	assert_string_equal(m->runtime, "overlay");
	assert_null(find(v, n, "/mnt/again"));
	dw_mounts_free_list(v, n);
	free(text);
}

static void test_skip(void **state)
{
	struct dw_mount_opts docker = {NULL, "/var/lib/docker", 0};
	struct dw_mount_opts prefix = {NULL, "/var/lib/dock", 0};
	char *text = fixture();
	struct dw_mount *v;
	size_t n;

	(void)state;
	/* Docker's own root is left to Docker's API. */
	assert_int_equal(dw_mounts_parse(text, &docker, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_null(find(v, n, "/var/lib/docker/overlay2/abc/merged"));
	dw_mounts_free_list(v, n);
	free(text);
	/* A prefix that is not a whole directory does not skip. */
	text = fixture();
	assert_int_equal(dw_mounts_parse(text, &prefix, &v, &n), 0);
	assert_int_equal(n, 5);
	dw_mounts_free_list(v, n);
	free(text);
}

/*
 * A runtime in a chroot (or the host seen at /host): option paths are the
 * mounter's, read under host_root; containerd's relative lower dirs are
 * its snapshots dir's; Docker's containerd-store rootfs is Docker's.
 */
static void test_host_root(void **state)
{
	char text[] =
		"501 22 0:70 / /h/run/containerd/t/k8s.io/abc/rootfs rw - "
		"overlay overlay rw,lowerdir=12/fs:3/fs:/abs/low,upperdir=/var/"
		"lib/containerd/snapshots/40/fs,workdir=/var/lib/containerd/"
		"snapshots/40/work\n"
		"502 22 0:71 / /h/var/lib/docker/rootfs/overlayfs/0123 rw - "
		"overlay overlay rw,lowerdir=/var/lib/containerd/snapshots/8/"
		"fs,upperdir=/var/lib/containerd/snapshots/9/fs,workdir=/w\n";
	struct dw_mount_opts o = {"/h/", "/var/lib/docker", 0};
	struct dw_mount *v;
	size_t n;

	(void)state;
	assert_int_equal(dw_mounts_parse(text, &o, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].upper,
			    "/h/var/lib/containerd/snapshots/40/fs");
	assert_int_equal(v[0].nlowers, 3);
	assert_string_equal(v[0].lowers[0],
			    "/h/var/lib/containerd/snapshots/12/fs");
	assert_string_equal(v[0].lowers[1],
			    "/h/var/lib/containerd/snapshots/3/fs");
	assert_string_equal(v[0].lowers[2], "/h/abs/low");
	dw_mounts_free_list(v, n);
}

/*
 * Relative lower dirs outside a known layout are never guessed; the new
 * mount API's lowerdir+/datadir+ are read; a copy of Docker's mount is
 * Docker's too.
 */
static void test_shapes(void **state)
{
	char text[] =
		"601 22 0:80 / /m/dotdot rw - overlay overlay "
		"rw,lowerdir=../../"
		"../etc,upperdir=/c/snapshots/9/fs,workdir=/w\n"
		"602 22 0:81 / /m/plus rw - overlay overlay rw,upperdir=/p/up,"
		"lowerdir+=/p/l1,lowerdir+=/p/l\\0722,datadir+=/p/d,workdir=/"
		"w\n"
		"603 22 0:82 / /var/lib/docker/rootfs/overlayfs/ab rw - "
		"overlay "
		"overlay rw,lowerdir=/c/snapshots/1/fs,upperdir=/c/snapshots/2/"
		"fs,workdir=/w\n"
		"604 22 0:82 / /mnt/copy rw - overlay overlay rw,lowerdir=/c/"
		"snapshots/1/fs,upperdir=/c/snapshots/2/fs,workdir=/w\n";
	struct dw_mount_opts o = {NULL, "/var/lib/docker", 0};
	struct dw_mount *v;
	size_t n;
	const struct dw_mount *m;

	(void)state;
	assert_int_equal(dw_mounts_parse(text, &o, &v, &n), 0);
	assert_int_equal(n, 2);
	m = find(v, n, "/m/dotdot");
	assert_non_null(m);
	assert_non_null(m->bad);
	m = find(v, n, "/m/plus");
	assert_non_null(m);
	assert_null(m->bad);
	assert_int_equal(m->nlowers, 3);
	assert_string_equal(m->lowers[1], "/p/l:2");
	assert_string_equal(m->lowers[2], "/p/d");
	assert_null(find(v, n, "/mnt/copy"));
	dw_mounts_free_list(v, n);
}

static void test_lowerdir_join(void **state)
{
	char *in[] = {"/a:b", "/c\\d", "/e"}, *joined, **out;
	size_t n, i;

	(void)state;
	joined = dw_lowerdir_join(in, 3);
	assert_string_equal(joined, "/a\\:b:/c\\\\d:/e");
	out = dw_lowerdir_split(joined, &n);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_string_equal(out[i], in[i]);
		free(out[i]);
	}
	free(out);
	free(joined);
}

#define CS "/var/lib/containers/storage"
#define OVL(layer)                                                             \
	"overlay overlay rw,lowerdir=" CS "/overlay/l/AAAA,upperdir=" CS       \
	"/overlay/" layer "/diff,workdir=" CS "/overlay/" layer "/work\n"

/*
 * CRI-O and podman, from fixture bundles (podman cannot start containers
 * on these machines): each merged mount is mapped to its container
 * through containers.json's "layer", then named from its
 * userdata/config.json's io.kubernetes.* annotations (CRI-O: pod,
 * namespace, uid, container, image, sandbox, labels) or from
 * containers.json (podman: name, image).
 */
static void test_containers_storage(void **state)
{
#define L_SB "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define L_APP "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define L_POD "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define L_NONE                                                                 \
	"d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
#define L_SNEAKY                                                               \
	"e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"
#define MNT(n, layer)                                                          \
	n " 22 0:80 / " CS "/overlay/" layer "/merged rw - " OVL(layer)
	/* clang-format off */
	char text[] = MNT("601", L_SB) MNT("602", L_APP) MNT("603", L_POD)
		MNT("604", L_NONE) MNT("605", L_SNEAKY);
	/* clang-format on */
	const char *root = DW_TEST_DATA "/containers-storage";
	struct dw_mount_opts o = {root, NULL, 0};
	const struct dw_mount *m;
	struct dw_mount *v;
	size_t n, k;
	int hosts = 0;

	(void)state;
	assert_int_equal(dw_mounts_parse(text, &o, &v, &n), 0);
	assert_int_equal(n, 5);
	dw_mounts_identify(root, v, n);

	m = find(v, n, CS "/overlay/" L_SB "/merged");
	assert_non_null(m);
	assert_string_equal(m->runtime, "cri-o");
	assert_true(m->sandbox);

	m = find(v, n, CS "/overlay/" L_APP "/merged");
	assert_non_null(m);
	assert_string_equal(m->runtime, "cri-o");
	assert_false(m->sandbox);
	assert_string_equal(m->k8s_namespace, "prod");
	assert_string_equal(m->k8s_pod, "web-7d9");
	assert_string_equal(m->k8s_uid, "0b6f2a1c-1111-4222-8333-944455556666");
	assert_string_equal(m->k8s_container, "app");
	assert_string_equal(m->image, "docker.io/library/nginx:1.27");
	assert_string_equal(m->ctr_id, "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b"
				       "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b");
	/* Its pod's labels are its sandbox's (its own are Kubernetes'). */
	assert_non_null(m->labels);
	assert_non_null(strstr(m->labels, "\"tier\":\"front\""));
	assert_non_null(strstr(m->labels, "\"io.kubernetes.container.name\":"
					  "\"app\""));
	assert_int_equal(m->nmount_points, 5);

	m = find(v, n, CS "/overlay/" L_POD "/merged");
	assert_non_null(m);
	assert_string_equal(m->runtime, "podman");
	assert_string_equal(m->ctr_name, "billing-db");
	assert_string_equal(m->image, "docker.io/library/postgres:16");
	assert_null(m->k8s_pod);
	assert_null(m->labels);
	for (k = 0; k < m->nmount_points; k++)
		hosts += !strcmp(m->mount_points[k], "/run/.containerenv");
	assert_int_equal(hosts, 1);

	/* podman's, whatever CRI-O annotations it was given: never a pod's
	 * sandbox (which is not watched). */
	m = find(v, n, CS "/overlay/" L_SNEAKY "/merged");
	assert_non_null(m);
	assert_string_equal(m->runtime, "podman");
	assert_false(m->sandbox);
	assert_null(m->k8s_pod);
	assert_string_equal(m->ctr_name, "sneaky");

	/* A layer no container has: a bare mount, nothing guessed. */
	m = find(v, n, CS "/overlay/" L_NONE "/merged");
	assert_non_null(m);
	assert_string_equal(m->runtime, "containers-storage");
	assert_null(m->ctr_id);
	assert_null(m->image);
	dw_mounts_free_list(v, n);
}

static void test_empty(void **state)
{
	char text[] = "";
	struct dw_mount *v;
	size_t n = 7;

	(void)state;
	assert_int_equal(dw_mounts_parse(text, NULL, &v, &n), 0);
	assert_int_equal(n, 0);
	dw_mounts_free_list(v, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlays),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_host_root),
		cmocka_unit_test(test_lowerdir_join),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_containers_storage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
