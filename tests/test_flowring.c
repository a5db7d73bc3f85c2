/* Description: consumer SDK: fixed ABI layout, version rules, validation of bad or foreign regions, and the examples against a live producer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "events_ring.h"
#include "snapshot_ring.h"

#define CAP 64u

static char shm_dir[128];
static unsigned char *image; /* a valid events region, page aligned */
static size_t image_size;
static unsigned char *work;  /* a page-aligned scratch copy */

static int setup(void **state)
{
	struct fr_events_writer w;
	struct fr_events_params p = {.instance = "good", .capacity = CAP, .gid = (gid_t)-1};
	struct fr_conn c;
	(void)state;
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fr-test-sdk-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(shm_dir))
		return -1;
	p.shm_dir = shm_dir;
	if (fr_events_create(&w, &p) != 0)
		return -1;
	memset(&c, 0, sizeof(c));
	for (uint32_t i = 0; i < 10; i++) {
		c.pid = i;
		fr_events_publish_sp(&w, &c);
	}
	image_size = w.region.size;
	image = mmap(NULL, image_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	work = mmap(NULL, image_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(image, w.region.base, image_size);
	/* keep it "alive" for liveness checks: our pid, fresh heartbeat (we refresh before use) */
	fr_events_retire(&w);
	((struct fr_region_header *)(void *)image)->state = FR_STATE_READY;
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	munmap(image, image_size);
	munmap(work, image_size);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm_dir);
	return system(cmd);
}

static struct fr_region_header *fresh(void)
{
	memcpy(work, image, image_size);
	struct fr_region_header *h = (struct fr_region_header *)(void *)work;
	h->heartbeat_ns = fr_now_ns();
	return h;
}

static int attach(uint64_t size)
{
	struct fr_events_reader r;
	return fr_events_attach(&r, work, size, FR_FROM_OLDEST);
}

/* Write work[0..size) as <shm_dir>/flowring.<instance>.events. */
static void write_file(const char *instance, size_t size)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/flowring.%s.events", shm_dir, instance);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, work, size), (ssize_t)size);
	close(fd);
}

static void test_abi_sizes_and_offsets_are_fixed(void **state)
{
	(void)state;
	assert_int_equal(FR_ABI_MAJOR, 1);
	assert_int_equal(sizeof(struct fr_region_header), 4096);
	assert_int_equal(offsetof(struct fr_region_header, abi_major), 8);
	assert_int_equal(offsetof(struct fr_region_header, generation), 40);
	assert_int_equal(offsetof(struct fr_region_header, ring_offset), 64);
	assert_int_equal(offsetof(struct fr_region_header, telemetry_offset), 80);
	assert_int_equal(offsetof(struct fr_region_header, state), 256);
	assert_int_equal(offsetof(struct fr_region_header, heartbeat_ns), 320);
	assert_int_equal(offsetof(struct fr_region_header, head), 384);
	assert_int_equal(offsetof(struct fr_region_header, wake_seq), 448);
	assert_int_equal(sizeof(struct fr_events_slot), 256);
	assert_int_equal(offsetof(struct fr_events_slot, rec), 16);
	assert_int_equal(sizeof(struct fr_conn), 240);
	assert_int_equal(sizeof(struct fr_snapshot_slot), 64);
	assert_int_equal(FR_SNAPSHOT_SLOT_BYTES(1), 320);
	assert_int_equal(FR_SNAPSHOT_SLOT_BYTES(3), 64 + 3 * 240 + 48);
	assert_memory_equal(&(uint64_t){FR_REGION_MAGIC}, "FLOWRING", 8);
	/* the producer lays the events region out as documented */
	const struct fr_region_header *h = (const void *)image;
	assert_int_equal(h->telemetry_offset, 4096);
	assert_int_equal(h->ring_offset, 4096 + FR_TELEMETRY_MAX * 64);
	assert_int_equal(h->region_size, 4096 + FR_TELEMETRY_MAX * 64 + CAP * 256);
}

static void test_other_major_is_rejected_with_both_versions(void **state)
{
	struct fr_events_reader r;
	unsigned maj = 0, min = 0;
	(void)state;
	struct fr_region_header *h = fresh();
	h->abi_major = FR_ABI_MAJOR + 1;
	h->abi_minor = 5;
	assert_int_equal(attach(image_size), FR_VERSION_MISMATCH);
	write_file("major", image_size);
	assert_int_equal(fr_events_open(&r, shm_dir, "major", FR_FROM_LATEST), FR_VERSION_MISMATCH);
	fr_region_version(&r.region, &maj, &min);
	assert_int_equal(maj, FR_ABI_MAJOR + 1);
	assert_int_equal(min, 5);
	assert_null(r.region.base); /* nothing left mapped */
}

static void test_newer_minor_is_accepted(void **state)
{
	struct fr_events_reader r;
	const struct fr_conn *c;
	(void)state;
	struct fr_region_header *h = fresh();
	h->abi_minor = FR_ABI_MINOR + 3;
	h->resv2 = 0xdead; /* a newer minor gives meaning to reserved bytes: ignored */
	write_file("minor", image_size);
	assert_int_equal(fr_events_open(&r, shm_dir, "minor", FR_FROM_OLDEST), FR_OK);
	assert_int_equal(r.region.found_minor, FR_ABI_MINOR + 3);
	assert_int_equal(fr_events_next(&r, &c), FR_OK);
	assert_int_equal(c->pid, 0);
	fr_events_close(&r);
}

static void test_bad_regions_get_clear_errors(void **state)
{
	struct fr_events_reader r;
	struct fr_snapshot_reader s;
	struct fr_region_header *h;
	(void)state;
	h = fresh();
	h->magic ^= 1;
	assert_int_equal(attach(image_size), FR_BAD_MAGIC);
	fresh();
	assert_int_equal(attach(100), FR_CORRUPT);              /* shorter than a header */
	assert_int_equal(attach(image_size - 4096), FR_CORRUPT); /* region_size beyond the file */
	write_file("trunc", image_size / 2);
	assert_int_equal(fr_events_open(&r, shm_dir, "trunc", FR_FROM_LATEST), FR_CORRUPT);
	write_file("tiny", 17);
	assert_int_equal(fr_events_open(&r, shm_dir, "tiny", FR_FROM_LATEST), FR_CORRUPT);
	h = fresh();
	h->state = FR_STATE_INIT;
	assert_int_equal(attach(image_size), FR_NOT_READY);
	h = fresh();
	h->state = 7;
	assert_int_equal(attach(image_size), FR_CORRUPT);
	fresh();
	assert_int_equal(fr_snapshot_attach(&s, work, image_size), FR_WRONG_KIND);
#define EXPECT_CORRUPT(stmt)                                      \
	do {                                                      \
		h = fresh();                                      \
		stmt;                                             \
		assert_int_equal(attach(image_size), FR_CORRUPT); \
	} while (0)
	EXPECT_CORRUPT(h->ring_offset = image_size);
	EXPECT_CORRUPT(h->ring_offset = UINT64_MAX - 63);
	EXPECT_CORRUPT(h->ring_offset += 8);             /* misaligned */
	EXPECT_CORRUPT(h->slot_count = 1u << 31);        /* ring past the end */
	EXPECT_CORRUPT(h->slot_count = CAP + 1);         /* not a power of two */
	EXPECT_CORRUPT(h->ring_size = 1);
	EXPECT_CORRUPT(h->slot_size = 128);
	EXPECT_CORRUPT(h->record_size = 200);
	EXPECT_CORRUPT(h->header_size = 64);
	EXPECT_CORRUPT(h->header_size = UINT32_MAX - 63);
	EXPECT_CORRUPT(h->region_size = UINT64_MAX);
	EXPECT_CORRUPT(h->telemetry_count = UINT32_MAX);  /* telemetry past the end */
	EXPECT_CORRUPT(h->telemetry_offset = h->ring_offset); /* overlaps the ring */
	EXPECT_CORRUPT(h->kind = 99);
	EXPECT_CORRUPT(h->producer_pid = 0);
	EXPECT_CORRUPT(h->heartbeat_interval_ms = 0);
#undef EXPECT_CORRUPT
	/* a non-regular file at the name: refused, and a FIFO cannot block the open */
	char path[300];
	snprintf(path, sizeof(path), "%s/flowring.fifo.events", shm_dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fr_events_open(&r, shm_dir, "fifo", FR_FROM_LATEST), -EINVAL);
	assert_int_equal(fr_events_open(&r, shm_dir, "missing", FR_FROM_LATEST), FR_NOT_READY);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random images (some with a valid magic and major, some mutations of a valid one): every
 * answer is a status, never a crash; accepted ones can be read without faults. */
static void test_random_bytes_never_crash(void **state)
{
	uint64_t seed = 0x1234567;
	(void)state;
	for (int round = 0; round < 3000; round++) {
		struct fr_region_header *h = fresh();
		if (round % 3 == 0) {
			for (size_t i = 0; i < 4096; i += 8)
				*(uint64_t *)(void *)(work + i) = rnd(&seed);
		} else {
			for (int k = 0; k < 4; k++)
				work[rnd(&seed) % 512] = (unsigned char)rnd(&seed);
		}
		if (round % 3 == 1) {
			h->magic = FR_REGION_MAGIC;
			h->abi_major = FR_ABI_MAJOR;
		}
		struct fr_events_reader r;
		struct fr_snapshot_reader s;
		struct fr_snapshot_view v;
		const struct fr_conn *c;
		struct fr_conn copy;
		int st = fr_events_attach(&r, work, image_size, FR_FROM_OLDEST);
		assert_true(st >= FR_OK && st <= FR_WRONG_KIND);
		if (st == FR_OK) {
			for (int k = 0; k < 5; k++) {
				if (fr_events_next(&r, &c) == FR_OK)
					(void)fr_events_check(&r);
				(void)fr_events_read(&r, &copy);
			}
		}
		st = fr_snapshot_attach(&s, work, image_size);
		assert_true(st >= FR_OK && st <= FR_WRONG_KIND);
		if (st == FR_OK && fr_snapshot_latest(&s, &v) == FR_OK)
			(void)fr_snapshot_valid(&s, &v);
	}
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The SDK examples, built by this suite, read a live producer (the demo, driving the same
 * producer API as flowringd); the demo stops cleanly on SIGTERM and removes its regions. */
static void test_examples_read_a_live_producer(void **state)
{
	const char *demo = getenv("FR_DEMO"), *follow = getenv("FR_EXAMPLE_FOLLOW");
	const char *snap = getenv("FR_EXAMPLE_SNAPSHOT");
	char inst[32], path[300];
	(void)state;
	assert_non_null(demo);
	assert_non_null(follow);
	assert_non_null(snap);
	snprintf(inst, sizeof(inst), "ex%d", (int)getpid());
	pid_t prod = spawn((char *const[]){(char *)demo, "--produce", "--instance", inst, "--shm-dir", shm_dir,
					   "--client", "-1", "--interval-ms", "100", NULL});
	assert_true(prod > 0);
	pid_t f = spawn((char *const[]){(char *)follow, inst, shm_dir, "50", NULL});
	assert_int_equal(wait_exit(f), 0);
	pid_t s = spawn((char *const[]){(char *)snap, inst, "-1", shm_dir, NULL});
	assert_int_equal(wait_exit(s), 0);
	kill(prod, SIGTERM);
	assert_int_equal(wait_exit(prod), 0);
	snprintf(path, sizeof(path), "%s/flowring.%s.events", shm_dir, inst);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/flowring.%s.client.-1", shm_dir, inst);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_sizes_and_offsets_are_fixed),
		cmocka_unit_test(test_other_major_is_rejected_with_both_versions),
		cmocka_unit_test(test_newer_minor_is_accepted),
		cmocka_unit_test(test_bad_regions_get_clear_errors),
		cmocka_unit_test(test_random_bytes_never_crash),
		cmocka_unit_test(test_examples_read_a_live_producer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
