/* Description: region lifecycle: safe create (mode, group, symlinks), read-only readers, generations, retire, stale cleanup. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "events_ring.h"
#include "region.h"

static char shm_dir[128];

static int setup(void **state)
{
	(void)state;
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fr-test-region-%d-XXXXXX", (int)getpid());
	return mkdtemp(shm_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct fr_events_params params(const char *instance)
{
	struct fr_events_params p = {.shm_dir = shm_dir, .instance = instance, .capacity = 64, .gid = (gid_t)-1};
	return p;
}

static void test_region_is_created_0640_with_the_configured_group(void **state)
{
	struct fr_events_writer w;
	struct stat st;
	struct fr_events_params p = params("perm");
	(void)state;
	/* as root any group works; otherwise one of ours */
	p.gid = getuid() == 0 ? 4242 : getgid();
	umask(0); /* the mode must not depend on the umask */
	assert_int_equal(fr_events_create(&w, &p), 0);
	assert_int_equal(stat(w.region.path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, p.gid);
	assert_true(S_ISREG(st.st_mode));
	umask(022);
	fr_events_retire(&w);
}

/* The SDK's mapping is read-only and shared; it keeps no writable descriptor. */
static void test_reader_maps_read_only(void **state)
{
	struct fr_events_writer w;
	struct fr_events_reader r;
	struct fr_events_params p = params("ro");
	char line[1024];
	int found = 0;
	(void)state;
	assert_int_equal(fr_events_create(&w, &p), 0);
	assert_int_equal(fr_events_open(&r, shm_dir, "ro", FR_FROM_LATEST), FR_OK);
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "flowring.ro.events") && strncmp(strchr(line, ' ') + 1, "r--s", 4) == 0)
			found++;
	}
	fclose(f);
	assert_int_equal(found, 1);
	/* the SDK closed its descriptor: nothing in /proc/self/fd points at the region */
	char fdp[64], target[512];
	for (int fd = 0; fd < 256; fd++) {
		snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(fdp, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			assert_null(strstr(target, "flowring.ro.events"));
		}
	}
	fr_events_close(&r);
	fr_events_retire(&w);
}

static void test_symlink_at_temporary_name_is_refused(void **state)
{
	struct fr_events_writer w;
	struct fr_events_params p = params("tmpl");
	char tmp[700], victim[600], buf[8] = {0};
	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", shm_dir);
	int fd = open(victim, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	snprintf(tmp, sizeof(tmp), "%s/flowring.tmpl.events.tmp.%d", shm_dir, (int)getpid());
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(fr_events_create(&w, &p), -EEXIST);
	fd = open(victim, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4); /* untouched: not truncated, not extended */
	close(fd);
	assert_string_equal(buf, "keep");
	unlink(tmp);
	unlink(victim);
}

static void test_symlink_at_public_name_is_refused(void **state)
{
	struct fr_events_writer w;
	struct fr_events_reader r;
	struct fr_events_params p = params("publ");
	char pub[600], victim[600], tmp[700];
	struct stat st;
	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim2", shm_dir);
	close(open(victim, O_CREAT | O_WRONLY, 0600));
	snprintf(pub, sizeof(pub), "%s/flowring.publ.events", shm_dir);
	assert_int_equal(symlink(victim, pub), 0);
	assert_int_equal(fr_events_create(&w, &p), -ELOOP);
	assert_int_equal(lstat(pub, &st), 0);
	assert_true(S_ISLNK(st.st_mode)); /* still the planted link, nothing renamed over it */
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", pub, (int)getpid());
	assert_int_equal(access(tmp, F_OK), -1); /* the temporary file was cleaned up */
	/* and a reader refuses to follow it */
	assert_int_equal(fr_events_open(&r, shm_dir, "publ", FR_FROM_LATEST), -ELOOP);
	unlink(pub);
	unlink(victim);
}

static void test_invalid_names_are_rejected_and_debug_client_allowed(void **state)
{
	struct fr_events_writer w;
	struct fr_events_params p = params("x");
	static const char *const bad[] = {"", ".", "..", ".hidden", "a/b", "tab\t", "0123456789012345678901234567890123"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.instance = bad[i];
		assert_int_equal(fr_events_create(&w, &p), -EINVAL);
	}
	p.instance = "-1";
	assert_int_equal(fr_events_create(&w, &p), 0);
	fr_events_retire(&w);
}

static void test_new_region_under_same_name_is_next_generation(void **state)
{
	struct fr_events_writer a, b;
	struct fr_events_reader r;
	struct fr_events_params p = params("gen");
	(void)state;
	assert_int_equal(fr_events_create(&a, &p), 0);
	assert_int_equal(a.region.hdr->generation, 1);
	assert_int_equal(fr_events_open(&r, shm_dir, "gen", FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_events_create(&b, &p), 0); /* a restart: renamed over the old one */
	assert_int_equal(b.region.hdr->generation, 2);
	fr_region_close_replaced(&a.region);
	assert_int_equal(fr_events_wait(&r, 1000), FR_NEW_GENERATION);
	assert_int_equal(fr_events_reopen(&r), FR_OK);
	assert_int_equal(r.region.generation, 2);
	fr_events_close(&r);
	fr_events_retire(&b);
}

static void test_retire_marks_retired_and_removes_name(void **state)
{
	struct fr_events_writer w;
	struct fr_events_reader r;
	struct fr_events_params p = params("ret");
	const struct fr_conn *c;
	(void)state;
	assert_int_equal(fr_events_create(&w, &p), 0);
	assert_int_equal(fr_events_open(&r, shm_dir, "ret", FR_FROM_LATEST), FR_OK);
	char path[600];
	snprintf(path, sizeof(path), "%s", w.region.path);
	assert_int_equal(fr_events_retire(&w), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(fr_events_next(&r, &c), FR_NEW_GENERATION);
	assert_int_equal(fr_events_reopen(&r), FR_NOT_READY);
	fr_events_close(&r);
}

static void test_cleanup_removes_only_regions_of_dead_producers(void **state)
{
	struct fr_events_writer live;
	struct fr_events_params p = params("stale");
	char path[600], tmp[700];
	int status;
	(void)state;
	pid_t child = fork();
	if (child == 0) {
		struct fr_events_writer w;
		struct fr_events_params cp = params("stale");
		_exit(fr_events_create(&w, &cp) == 0 ? 0 : 1); /* dies without retiring */
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(path, sizeof(path), "%s/flowring.stale.events", shm_dir);
	assert_int_equal(access(path, F_OK), 0);
	/* a leftover temporary of the dead child too */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)child);
	close(open(tmp, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(fr_region_cleanup_stale(shm_dir, "stale"), 2);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);
	/* a live producer's region is kept */
	assert_int_equal(fr_events_create(&live, &p), 0);
	assert_int_equal(fr_region_cleanup_stale(shm_dir, "stale"), 0);
	assert_int_equal(access(path, F_OK), 0);
	fr_events_retire(&live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_is_created_0640_with_the_configured_group),
		cmocka_unit_test(test_reader_maps_read_only),
		cmocka_unit_test(test_symlink_at_temporary_name_is_refused),
		cmocka_unit_test(test_symlink_at_public_name_is_refused),
		cmocka_unit_test(test_invalid_names_are_rejected_and_debug_client_allowed),
		cmocka_unit_test(test_new_region_under_same_name_is_next_generation),
		cmocka_unit_test(test_retire_marks_retired_and_removes_name),
		cmocka_unit_test(test_cleanup_removes_only_regions_of_dead_producers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
