/* cli_fake.h - test_cli's fake producer: an events region, per-client snapshot regions and a
 * control server on a thread of the test process, all under a fresh temp directory, answering the
 * real `flowring` binary the way flowringd would; plus a strict JSON checker for its output.
 *
 * Threads: the control server runs on its own thread between fake_producer_start() and
 * fake_producer_stop(); the snapshot writers are shared with the test thread under fake.mu.
 * The events writer is the test thread's alone.
 */
#ifndef FR_CLI_FAKE_H
#define FR_CLI_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <flowring/flowring.h>

#include "control_server.h"
#include "events_ring.h"
#include "snapshot_ring.h"

#define EV_CAP 16u /* events capacity the tests create the region with */
#define NKNOWN 4   /* records of known_records() */

/* Where the fake lives, set by fake_producer_start(): temp dir (also the shm dir), socket, instance. */
extern char tmpdir[128], sock_path[200], instance[32];

/* The records every snapshot carries (cycled), and the events tests publish: v4/v6, TCP/UDP, NAT. */
void known_records(struct fr_conn out[NKNOWN]);

struct fake_client {
	char id[FR_NAME_MAX];
	struct fr_snapshot_writer w;
	unsigned rounds;
	int64_t publish_interval_ms; /* as the last REGISTER gave it (-1: not given) */
	bool used;
};

/* The fake daemon's state: lock mu to look at c[] (the server thread writes it). */
struct fake_producer {
	pthread_mutex_t mu;
	struct fake_client c[8];
	unsigned unregisters;
	char last_unregistered[FR_NAME_MAX];
	struct fr_ctl_server *srv;
	pthread_t thread;
	int stop;
};
extern struct fake_producer fake;

/* The registered client of this id, or NULL; the caller holds fake.mu. */
struct fake_client *fake_find(const char *id);

/* The UNREGISTER handler, also called directly by tests to expire a client behind the CLI's back
 * (takes fake.mu). Returns 0 or -ENOENT. */
int fake_unregister(void *ctx, const char *id, const struct fr_ctl_peer *peer);

/* Make the temp dir, open the control server and start its thread: cmocka group setup. */
int fake_producer_start(void);

/* Stop the thread, close the server, retire every region and remove the temp dir: group teardown. */
int fake_producer_stop(void);

/* The two above as cmocka group fixtures (state unused): one fake producer per test file. */
int fake_producer_group_setup(void **state);
int fake_producer_group_teardown(void **state);

/* The fake's events region (test thread only). events_make (re)creates it with this capacity; a
 * second call retires the first, so the name gets a new generation. */
extern struct fr_events_writer ev;
void events_make(uint32_t capacity);

/* Publish n closed copies of the known records with sports first_sport.., then flush. */
void events_publish(uint16_t first_sport, unsigned n);

/* UNREGISTER requests the fake answered so far, and the last id (into last). */
unsigned unregisters(char *last, size_t len);

/* Whether the fake has a client of this id. */
bool registered(const char *id);

/* 1 if obj is exactly one valid JSON object; the raw text of top-level key into val. */
int js_get(const char *obj, const char *key, char *val, size_t len);

/* cmocka assertion: obj is one JSON object whose top-level key has exactly the raw text want. */
void assert_json_field(const char *obj, const char *key, const char *want);

#endif /* FR_CLI_FAKE_H */
