/* fanout_iceoryx.c - bench_fanout's iceoryx transport (C binding): one publisher, N subscriber
 * processes, one loaned 240-byte chunk per record (true zero-copy: the writer fills the chunk in
 * shared memory, subscribers get a pointer to it). Needs the broker iox-roudi, which the probe
 * starts as a child with a temporary config (one mempool sized for 16 full subscriber queues) and
 * the teardown stops.
 *
 * Slow reader: subscriber queues hold at most 256 chunks (MAX_SUBSCRIBER_QUEUE_CAPACITY of the
 * Debian build). Subscribers ask QueueFullPolicy DISCARD_OLDEST_DATA and the publisher uses
 * ConsumerTooSlowPolicy DISCARD_OLDEST_DATA: the writer never blocks, the oldest queued chunk is
 * dropped (iceoryx only says "some were lost": the bench counts sequence gaps). With
 * BLOCK_PRODUCER/WAIT_FOR_CONSUMER the writer would instead wait for the slowest subscriber.
 */
#define _GNU_SOURCE
#include "fanout_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef FANOUT_HAVE_ICEORYX
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/notification_info.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/types.h>
#include <iceoryx_binding_c/wait_set.h>

#define FANOUT_IOX_SERVICE "flowring-fanout"
#define FANOUT_IOX_EVENT "records"
#define FANOUT_IOX_QUEUE_MAX 256u
#define FANOUT_IOX_POLL_US 50u

static pid_t roudi_pid = -1;
static char roudi_cfg[64], roudi_log[64];

static int log_has(const char *needle)
{
	char buf[8192];
	FILE *f = fopen(roudi_log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void log_tail(char *why, size_t len)
{
	char buf[4096];
	FILE *f = fopen(roudi_log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	snprintf(why, len, "%s", n > 300 ? buf + n - 300 : buf);
}

/* RouDi's fixed resources. Only one RouDi can run on a machine and ours started, so after it
 * has exited these are ours: removed if it could not remove them itself. */
static void roudi_leftovers_remove(void)
{
	struct passwd *pw = getpwuid(geteuid());
	char path[128];
	unlink("/dev/shm/iceoryx_mgmt");
	if (pw) {
		snprintf(path, sizeof(path), "/dev/shm/%s", pw->pw_name);
		unlink(path);
	}
	unlink("/tmp/roudi");
	unlink("/tmp/roudi.lock");
	unlink("/tmp/iox-unique-roudi.lock");
}

static void iox_teardown(void)
{
	if (roudi_pid > 0) {
		int status = 0, i;
		pid_t p = 0;
		kill(roudi_pid, SIGTERM);
		for (i = 0; i < 1000 && (p = waitpid(roudi_pid, &status, WNOHANG)) == 0; i++)
			fanout_sleep_us(10000);
		if (p == 0) { /* still there after 10 s */
			kill(roudi_pid, SIGKILL);
			waitpid(roudi_pid, &status, 0);
		}
		if (p == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char tail[320];
			log_tail(tail, sizeof(tail));
			fprintf(stderr, "bench_fanout: iox-roudi did not stop cleanly (status 0x%x): %s\n", status, tail);
			roudi_leftovers_remove();
		}
		roudi_pid = -1;
	}
	if (roudi_cfg[0])
		unlink(roudi_cfg);
	if (roudi_log[0] && !getenv("FANOUT_KEEP_LOG")) /* FANOUT_KEEP_LOG=1: keep the broker log to debug it */
		unlink(roudi_log);
	roudi_cfg[0] = roudi_log[0] = '\0';
}

static int iox_probe(char *why, size_t len)
{
	const char *roudi = getenv("FANOUT_IOX_ROUDI") ? getenv("FANOUT_IOX_ROUDI") : "iox-roudi";
	snprintf(roudi_cfg, sizeof(roudi_cfg), "/tmp/fanout-roudi-%d.toml", (int)getpid());
	snprintf(roudi_log, sizeof(roudi_log), "/tmp/fanout-roudi-%d.log", (int)getpid());
	FILE *f = fopen(roudi_cfg, "w");
	if (!f) {
		snprintf(why, len, "cannot write %s: %s", roudi_cfg, strerror(errno));
		return -errno;
	}
	/* 16 subscribers x 256 queued + in flight: 20000 chunks of 512 B (240 B payload + header) */
	fprintf(f, "[general]\nversion = 1\n\n[[segment]]\n\n[[segment.mempool]]\nsize = 512\ncount = 20000\n");
	fclose(f);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int fd = open(roudi_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* the broker dies with the bench, even if the bench is killed (ctest timeout) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* monitoring off: on 2 shared vCPUs a starved reader must not be declared dead */
		execlp(roudi, roudi, "-c", roudi_cfg, "-m", "off", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", roudi, strerror(errno));
		_exit(127);
	}
	roudi_pid = pid;
	for (int i = 0; i < 1000; i++) { /* up to 10 s */
		if (log_has("RouDi is ready for clients"))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			roudi_pid = -1;
			char tail[320];
			log_tail(tail, sizeof(tail));
			snprintf(why, len, "iox-roudi exited at start: %s", tail);
			iox_teardown();
			return -ECHILD;
		}
		fanout_sleep_us(10000);
	}
	snprintf(why, len, "iox-roudi not ready after 10 s");
	iox_teardown();
	return -ETIMEDOUT;
}

struct iw {
	iox_pub_t pub;
	uint64_t loan_failed;
};

static void iw_publish(void *arg, const struct fr_conn *rec)
{
	struct iw *w = arg;
	void *chunk;
	if (iox_pub_loan_aligned_chunk(w->pub, &chunk, sizeof(*rec), 8) != AllocationResult_SUCCESS) {
		w->loan_failed++; /* pool exhausted: the record is lost for everyone (gaps show it) */
		return;
	}
	memcpy(chunk, rec, sizeof(*rec));
	iox_pub_publish_chunk(w->pub, chunk);
}

static void iw_batch_end(void *arg, uint64_t now_ns, int idle) { (void)arg, (void)now_ns, (void)idle; }

static int iw_subscribed(void *arg) { return iox_pub_has_subscribers(((struct iw *)arg)->pub); }

static int iox_writer(struct fanout_ctl *ctl)
{
	char name[64];
	iox_pub_storage_t storage;
	iox_pub_options_t o;
	struct iw w = {0};
	snprintf(name, sizeof(name), "fanout-w-%d", (int)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn); /* its debug lines would drown the tables */
	iox_runtime_init(name);
	iox_pub_options_init(&o);
	o.historyCapacity = 0;
	o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_DISCARD_OLDEST_DATA;
	w.pub = iox_pub_init(&storage, FANOUT_IOX_SERVICE, ctl->name, FANOUT_IOX_EVENT, &o);
	struct fanout_writer_ops ops = {.arg = &w, .publish = iw_publish, .batch_end = iw_batch_end,
					.subscribed = iw_subscribed};
	int rc = fanout_writer_start(ctl, &ops);
	if (rc == 0) {
		fanout_writer_run(ctl, &ops);
		if (w.loan_failed)
			fanout_set_error(ctl, "iceoryx writer: %llu loans failed (mempool exhausted)",
					 (unsigned long long)w.loan_failed);
		rc = fanout_writer_finish(ctl, &ops);
	}
	iox_pub_deinit(w.pub);
	iox_runtime_shutdown(); /* the runtime deregisters in its destructor: at exit */
	return rc;
}

static int iox_reader_any(struct fanout_ctl *ctl, unsigned idx, int poll)
{
	char name[64];
	iox_sub_storage_t storage;
	iox_ws_storage_t ws_storage;
	iox_sub_options_t o;
	iox_notification_info_t info[4];
	struct fanout_rx rx;
	uint64_t missed;
	int rc = 0;
	fanout_rx_init(&rx, ctl, idx);
	snprintf(name, sizeof(name), "fanout-r%u-%d", idx, (int)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);
	iox_sub_options_init(&o);
	o.queueCapacity = ctl->capacity < FANOUT_IOX_QUEUE_MAX ? ctl->capacity : FANOUT_IOX_QUEUE_MAX;
	o.historyRequest = 0;
	o.queueFullPolicy = QueueFullPolicy_DISCARD_OLDEST_DATA;
	iox_sub_t sub = iox_sub_init(&storage, FANOUT_IOX_SERVICE, ctl->name, FANOUT_IOX_EVENT, &o);
	/* waitset: the publisher notifies a waiting subscriber on every publish. poll: no waitset, so
	 * the publisher notifies nobody; the reader sleeps FANOUT_IOX_POLL_US when its queue is empty
	 * (the same bound flowring's lazy wake puts on a busy reader's delay) */
	iox_ws_t ws = poll ? NULL : iox_ws_init(&ws_storage);
	if (ws)
		iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0, NULL);
	for (uint64_t deadline = fanout_now_ns() + 10000000000ull;
	     iox_sub_get_subscription_state(sub) != SubscribeState_SUBSCRIBED; fanout_sleep_us(1000)) {
		if (fanout_now_ns() > deadline) {
			fanout_set_error(ctl, "iceoryx reader %u: not subscribed after 10 s", idx);
			rc = -ETIMEDOUT;
			fanout_rx_end(&rx, rc);
			goto cleanup;
		}
	}
	fanout_rx_ready(&rx);
	for (;;) {
		/* publishing is synchronous (the chunk is in my queue when publish returns): done read
		 * before an empty take means nothing more will come */
		int done = fanout_rx_writer_done(&rx);
		const void *chunk;
		enum iox_ChunkReceiveResult r = iox_sub_take_chunk(sub, &chunk);
		if (r == ChunkReceiveResult_SUCCESS) {
			const struct fr_conn *c = chunk;
			int last = fanout_rx_record(&rx, fanout_seq(c), fanout_ts(c));
			iox_sub_release_chunk(sub, chunk);
			if (last)
				break;
		} else if (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			fanout_rx_idle(&rx);
			if (done)
				break;
			if (ws) {
				struct timespec t = {.tv_sec = 0, .tv_nsec = 10000000};
				iox_ws_timed_wait(ws, t, info, 4, &missed);
			} else {
				fanout_sleep_us(FANOUT_IOX_POLL_US);
			}
		} else {
			fanout_set_error(ctl, "iceoryx reader %u: take_chunk: %d", idx, (int)r);
			rc = -EIO;
			break;
		}
	}
	fanout_rx_end(&rx, rc);
cleanup:
	if (ws) {
		iox_ws_detach_subscriber_state(ws, sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(ws);
	}
	iox_sub_deinit(sub);
	iox_runtime_shutdown(); /* the runtime deregisters in its destructor: at exit */
	return rc;
}

/* A killed child leaves its runtime's IPC channel and lock file (names as in iox_writer/iox_reader). */
static void iox_killed(pid_t pid, int idx)
{
	char path[96];
	if (idx < 0)
		snprintf(path, sizeof(path), "/tmp/fanout-w-%d", (int)pid);
	else
		snprintf(path, sizeof(path), "/tmp/fanout-r%d-%d", idx, (int)pid);
	unlink(path);
	strncat(path, ".lock", sizeof(path) - strlen(path) - 1);
	unlink(path);
}

static int iox_reader(struct fanout_ctl *ctl, unsigned idx) { return iox_reader_any(ctl, idx, 0); }
static int iox_reader_poll(struct fanout_ctl *ctl, unsigned idx) { return iox_reader_any(ctl, idx, 1); }

/* the polling variant shares the broker the first one started */
static int iox_probe_poll(char *why, size_t len)
{
	return roudi_pid > 0 ? 0 : iox_probe(why, len);
}

const struct fanout_transport fanout_iceoryx = {
	.name = "iceoryx",
	.probe = iox_probe,
	.writer = iox_writer,
	.reader = iox_reader,
	.teardown = iox_teardown,
	.killed = iox_killed,
	.slow_reader = "subscriber queue of 256 max; DISCARD_OLDEST_DATA: writer never blocks, oldest chunk dropped; "
		       "readers block in a waitset (the publisher notifies on every publish)",
};

const struct fanout_transport fanout_iceoryx_poll = {
	.name = "iceoryx-poll",
	.probe = iox_probe_poll,
	.writer = iox_writer,
	.reader = iox_reader_poll,
	.teardown = iox_teardown,
	.killed = iox_killed,
	.slow_reader = "as iceoryx, but readers poll (sleep 50 us when empty): no per-publish notification",
};

#else /* !FANOUT_HAVE_ICEORYX */

static int iox_probe(char *why, size_t len)
{
	snprintf(why, len, "not built: CMake package iceoryx_binding_c not found at configure time "
			   "(apt-get install libiceoryx-binding-c-dev iceoryx)");
	return -ENOSYS;
}

const struct fanout_transport fanout_iceoryx = {
	.name = "iceoryx",
	.probe = iox_probe,
	.slow_reader = "-",
};

const struct fanout_transport fanout_iceoryx_poll = {
	.name = "iceoryx-poll",
	.probe = iox_probe,
	.slow_reader = "-",
};

#endif
