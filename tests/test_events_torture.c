/* Description: events ring across processes: 1 writer + 4 readers for >= 10 s accept no torn record and account exactly for loss; a SIGKILLed producer is reported dead and its restart followed. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "events_ring.h"

#define CAP 1024u
#define READERS 4
#define TORTURE_NS 10500000000ull

static char shm_dir[128];
static volatile sig_atomic_t stop_writer;

static int setup(void **state)
{
	(void)state;
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fr-test-torture-%d-XXXXXX", (int)getpid());
	return mkdtemp(shm_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm_dir);
	return system(cmd);
}

/* Record for position pos: 28 words derived from (tag, pos), cookie = pos, last word = checksum. */
static void make_rec(struct fr_conn *c, uint64_t tag, uint64_t pos)
{
	uint64_t *q = (uint64_t *)(void *)c, sum = 0;
	for (unsigned i = 0; i < 29; i++)
		q[i] = (pos + 1) * 0x9e3779b97f4a7c15ull ^ (tag << 40) ^ i;
	c->cookie = pos;
	for (unsigned i = 0; i < 29; i++)
		sum = sum * 1099511628211ull + q[i];
	q[29] = sum;
}

static int rec_intact(const struct fr_conn *c)
{
	const volatile uint64_t *q = (const volatile uint64_t *)(const volatile void *)c;
	uint64_t sum = 0, w[30];
	for (unsigned i = 0; i < 30; i++)
		w[i] = q[i];
	for (unsigned i = 0; i < 29; i++)
		sum = sum * 1099511628211ull + w[i];
	return sum == w[29];
}

static void on_term(int sig)
{
	(void)sig;
	stop_writer = 1;
}

/* Writer process: publish as fast as it can for duration_ns (0: until SIGTERM), then report the
 * number of records written on fd and retire. */
static int writer_main(const char *instance, uint64_t tag, uint64_t duration_ns, int ready_fd, int result_fd)
{
	struct fr_events_writer w;
	struct fr_events_params p = {.shm_dir = shm_dir, .instance = instance, .capacity = CAP, .gid = (gid_t)-1,
				     .heartbeat_interval_ms = 50};
	struct fr_conn c;
	signal(SIGTERM, on_term);
	if (fr_events_create(&w, &p) != 0)
		return 1;
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	uint64_t t0 = fr_now_ns(), now = t0;
	while (!stop_writer && (duration_ns == 0 || now - t0 < duration_ns)) {
		make_rec(&c, tag, w.head);
		fr_events_publish_sp(&w, &c);
		if ((w.head & 31) == 0)
			fr_events_flush_sp(&w);
		if ((w.head & 1023) == 0 || duration_ns == 0) {
			now = fr_now_ns();
			fr_events_heartbeat_sp(&w, now);
		}
		if (duration_ns == 0)
			usleep(200); /* the liveness test wants a steady trickle */
	}
	fr_events_flush_sp(&w);
	if (result_fd >= 0 && write(result_fd, &w.head, sizeof(w.head)) != (ssize_t)sizeof(w.head))
		return 1;
	fr_events_retire(&w);
	return 0;
}

struct reader_result {
	uint64_t start, end, received, lost, torn, bad_pos, discarded, laps, max_lost_end;
	int status;
};

static void reader_main(int id, int result_fd)
{
	struct reader_result res;
	struct fr_events_reader r;
	uint64_t seed = (uint64_t)id * 7777 + 1;
	int st;
	memset(&res, 0, sizeof(res));
	while ((st = fr_events_open(&r, shm_dir, "tt", FR_FROM_OLDEST)) == FR_NOT_READY)
		fr_sleep_ms(1);
	res.status = st;
	res.start = fr_events_position(&r);
	while (st == FR_OK) {
		uint64_t pos = fr_events_position(&r);
		const struct fr_conn *c;
		struct fr_conn copy;
		int s = (id & 1) ? fr_events_read(&r, &copy) : fr_events_next(&r, &c);
		if (s == FR_OK) {
			const struct fr_conn *rec = (id & 1) ? &copy : c;
			int intact = rec_intact(rec), pos_ok = rec->cookie == pos;
			if (!(id & 1) && fr_events_check(&r) != FR_OK) {
				res.discarded++; /* overwritten while we looked: not accepted, counted as lost */
				res.lost++;
				res.max_lost_end = pos + 1;
			} else {
				res.received++;
				res.torn += !intact;
				res.bad_pos += !pos_ok;
			}
		} else if (s == FR_LAPPED) {
			res.laps++;
			res.lost += fr_events_lost(&r);
			res.max_lost_end = fr_events_position(&r);
		} else if (s == FR_AGAIN || s == FR_PRODUCER_STALE) {
			fr_events_wait(&r, 100);
		} else if (s == FR_NEW_GENERATION) {
			break; /* the writer retired after its last record: we drained everything */
		} else {
			res.status = s;
			break;
		}
		/* readers 2 and 3 stall now and then, so the writer laps them */
		if (id >= 2) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			if ((seed >> 33) % 20000 == 0)
				usleep((useconds_t)((seed >> 20) % 3000));
		}
	}
	res.end = fr_events_position(&r);
	fr_events_close(&r);
	if (write(result_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(2);
	_exit(0);
}

static int exit_code(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "child %d killed by signal %d%s\n", (int)pid, WTERMSIG(status),
			WTERMSIG(status) == SIGBUS ? " (SIGBUS)" : "");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_reader_processes_accept_no_torn_record_and_count_loss_exactly(void **state)
{
	int ready[2], wres[2], rres[READERS][2];
	pid_t writer, readers[READERS];
	uint64_t written = 0, laps = 0;
	char b;
	(void)state;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(wres), 0);
	writer = fork();
	if (writer == 0)
		_exit(writer_main("tt", 1, TORTURE_NS, ready[1], wres[1]));
	assert_int_equal(read(ready[0], &b, 1), 1);
	for (int i = 0; i < READERS; i++) {
		assert_int_equal(pipe(rres[i]), 0);
		readers[i] = fork();
		if (readers[i] == 0)
			reader_main(i, rres[i][1]);
	}
	assert_int_equal(read(wres[0], &written, sizeof(written)), (ssize_t)sizeof(written));
	assert_int_equal(exit_code(writer), 0);
	for (int i = 0; i < READERS; i++) {
		struct reader_result res;
		assert_int_equal(read(rres[i][0], &res, sizeof(res)), (ssize_t)sizeof(res));
		assert_int_equal(exit_code(readers[i]), 0);
		fprintf(stderr, "reader %d (%s): start %llu end %llu received %llu lost %llu (discarded %llu) laps %llu torn %llu\n",
			i, (i & 1) ? "copy-out" : "zero-copy", (unsigned long long)res.start, (unsigned long long)res.end,
			(unsigned long long)res.received, (unsigned long long)res.lost, (unsigned long long)res.discarded,
			(unsigned long long)res.laps, (unsigned long long)res.torn);
		assert_int_equal(res.status, FR_OK);
		assert_int_equal(res.torn, 0);
		assert_int_equal(res.bad_pos, 0);
		assert_int_equal(res.end, written);                  /* drained to the writer's last record */
		assert_int_equal(res.received + res.lost, res.end - res.start); /* every position accounted */
		assert_true(res.received > 0);
		/* every position counted lost was overwritten, by the writer's own count */
		if (res.lost)
			assert_true(res.max_lost_end - 1 + CAP < written);
		laps += res.laps;
		close(rres[i][0]);
		close(rres[i][1]);
	}
	fprintf(stderr, "writer published %llu records; readers were lapped %llu times\n", (unsigned long long)written,
		(unsigned long long)laps);
	assert_true(written > CAP * 100);
	assert_true(laps > 0); /* the loss path was exercised */
	close(ready[0]);
	close(ready[1]);
	close(wres[0]);
	close(wres[1]);
}

static void test_killed_producer_is_reported_and_its_restart_followed(void **state)
{
	struct fr_events_reader r;
	const struct fr_conn *c;
	int ready[2];
	char b;
	int st;
	(void)state;
	assert_int_equal(pipe(ready), 0);
	pid_t a = fork();
	if (a == 0)
		_exit(writer_main("dp", 1, 0, ready[1], -1));
	assert_int_equal(read(ready[0], &b, 1), 1);
	assert_int_equal(fr_events_open(&r, shm_dir, "dp", FR_FROM_OLDEST), FR_OK);
	uint64_t got = 0, t0 = fr_now_ns();
	while (got < 100 && fr_now_ns() - t0 < 5000000000ull) {
		st = fr_events_next(&r, &c);
		if (st == FR_OK && fr_events_check(&r) == FR_OK)
			got++;
		else if (st == FR_AGAIN)
			fr_events_wait(&r, 100);
	}
	assert_int_equal(got, 100);

	kill(a, SIGKILL); /* not reaped yet: a zombie must count as dead too */
	uint64_t killed = fr_now_ns(), stale_at = 0, dead_at = 0;
	while (!dead_at && fr_now_ns() - killed < 3000000000ull) {
		st = fr_events_next(&r, &c);
		if (st == FR_AGAIN || st == FR_OK || st == FR_LAPPED)
			st = fr_events_wait(&r, 20);
		if (st == FR_PRODUCER_STALE && !stale_at)
			stale_at = fr_now_ns();
		if (st == FR_PRODUCER_DEAD)
			dead_at = fr_now_ns();
	}
	assert_true(dead_at != 0);
	/* heartbeat 50 ms, stale after 3 intervals: reported within 150 ms + a wait step (20 ms);
	 * 1 s of slack for a loaded CI machine */
	fprintf(stderr, "producer death reported after %.1f ms\n", (double)(dead_at - killed) / 1e6);
	assert_true(dead_at - killed < 1170000000ull);
	assert_true(exit_code(a) == 128 + SIGKILL);

	pid_t bpid = fork();
	if (bpid == 0)
		_exit(writer_main("dp", 2, 0, ready[1], -1));
	assert_int_equal(read(ready[0], &b, 1), 1);
	assert_int_equal(fr_events_reopen(&r), FR_OK);
	assert_int_equal(r.region.generation, 2);
	assert_int_equal(r.region.pid, (uint32_t)bpid);
	got = 0;
	t0 = fr_now_ns();
	while (got < 10 && fr_now_ns() - t0 < 5000000000ull) {
		st = fr_events_next(&r, &c);
		if (st == FR_OK && rec_intact(c) && fr_events_check(&r) == FR_OK)
			got++;
		else if (st == FR_AGAIN)
			fr_events_wait(&r, 100);
	}
	assert_int_equal(got, 10);
	kill(bpid, SIGTERM); /* graceful: retires the region */
	assert_int_equal(exit_code(bpid), 0);
	t0 = fr_now_ns(); /* drain what is left, then the retired region says so */
	while ((st = fr_events_next(&r, &c)) == FR_OK || st == FR_LAPPED || st == FR_AGAIN)
		if (st == FR_AGAIN && fr_now_ns() - t0 > 2000000000ull)
			break;
	assert_int_equal(st, FR_NEW_GENERATION);
	fr_events_close(&r);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_killed_producer_is_reported_and_its_restart_followed),
		cmocka_unit_test(test_reader_processes_accept_no_torn_record_and_count_loss_exactly),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
