/* Description: a full shared-memory filesystem (small tmpfs, root only): ENOSPC at create with a clear error, never SIGBUS later. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "events_ring.h"
#include "snapshot_ring.h"

static char shm_dir[128];

static int count_entries(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", shm_dir);
	return system(cmd) == 0 ? 0 : 1;
}

static void fill_filesystem(void)
{
	char path[200], buf[4096];
	memset(buf, 0xab, sizeof(buf));
	snprintf(path, sizeof(path), "%s/filler", shm_dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	while (write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf)) {
	}
	assert_int_equal(errno, ENOSPC);
	close(fd);
}

static void test_create_fails_with_enospc_and_leaves_nothing(void **state)
{
	struct fr_events_writer w;
	struct fr_events_params p = {.shm_dir = shm_dir, .instance = "big", .capacity = 8192, .gid = (gid_t)-1};
	(void)state;
	assert_int_equal(fr_events_create(&w, &p), -ENOSPC); /* 2 MB ring on a 512 KB filesystem */
	assert_int_equal(count_entries(), 0);                  /* no temporary file left behind */
}

static void test_full_filesystem_after_create_never_raises_sigbus(void **state)
{
	struct fr_events_writer w;
	struct fr_events_reader r;
	struct fr_snapshot_writer sw;
	struct fr_snapshot_reader sr;
	struct fr_snapshot_view v;
	struct fr_events_params p = {.shm_dir = shm_dir, .instance = "fits", .capacity = 256, .gid = (gid_t)-1};
	struct fr_snapshot_params sp = {.shm_dir = shm_dir, .instance = "fits", .client_id = "c", .capacity = 16,
					.gid = (gid_t)-1};
	struct fr_conn c;
	const struct fr_conn *rc;
	(void)state;
	assert_int_equal(fr_events_create(&w, &p), 0);
	assert_int_equal(fr_snapshot_create(&sw, &sp), 0);
	assert_int_equal(fr_events_open(&r, shm_dir, "fits", FR_FROM_OLDEST), FR_OK);
	fill_filesystem();
	/* every page of the ring was allocated at create: writing all of it cannot fault */
	memset(&c, 0, sizeof(c));
	for (uint32_t i = 0; i < 10 * 256; i++) {
		c.pid = i;
		fr_events_publish_sp(&w, &c);
	}
	fr_events_flush_sp(&w);
	assert_int_equal(fr_events_next(&r, &rc), FR_LAPPED);
	assert_int_equal(fr_events_next(&r, &rc), FR_OK);
	assert_int_equal(rc->pid, 9 * 256);
	/* a snapshot that must grow cannot: -ENOSPC, and what was appended stays committable */
	assert_int_equal(fr_snapshot_begin_sp(&sw, 1, 0), 0);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(fr_snapshot_append_sp(&sw, &c), 0);
	assert_int_equal(fr_snapshot_append_sp(&sw, &c), -ENOSPC);
	assert_int_equal(fr_snapshot_commit_sp(&sw), 0);
	assert_int_equal(fr_snapshot_open(&sr, shm_dir, "fits", "c"), FR_OK);
	assert_int_equal(fr_snapshot_latest(&sr, &v), FR_OK);
	assert_int_equal(v.count, 16);
	fr_snapshot_close(&sr);
	fr_events_close(&r);
	fr_snapshot_retire(&sw);
	fr_events_retire(&w);
}

static int setup(void **state)
{
	(void)state;
	/* a private mount namespace: the tmpfs vanishes with this process, even if it crashes */
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		fprintf(stderr, "test_region_root: cannot make a private mount namespace: %s\n", strerror(errno));
		return -1;
	}
	snprintf(shm_dir, sizeof(shm_dir), "/tmp/fr-test-fullshm-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(shm_dir) || mount("tmpfs", shm_dir, "tmpfs", 0, "size=512k,mode=1777") != 0) {
		fprintf(stderr, "test_region_root: cannot mount a small tmpfs on %s: %s\n", shm_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	umount2(shm_dir, MNT_DETACH);
	return rmdir(shm_dir);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP test_region_root: needs root to mount a small tmpfs as a full /dev/shm\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_fails_with_enospc_and_leaves_nothing),
		cmocka_unit_test(test_full_filesystem_after_create_never_raises_sigbus),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
