/* control_server_fixture.h - shared by test_control_server.c and test_control_server_limits.c: a
 * fake daemon handler, the server on its own thread (as in the daemon's loop) on a socket in a temp
 * dir, and the cmocka group setup/teardown and per-test cleanup. */
#ifndef FR_CONTROL_SERVER_FIXTURE_H
#define FR_CONTROL_SERVER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "control_server.h"

#define TMO 3000

/* The temp dir (made by setup) and the socket path in it. */
extern char tmpdir[];
extern char sock_path[256];

/* The fake daemon's clients; read it only while the server thread is paused (srv_pause). */
struct fake {
	char ids[8][FR_CTL_ID_MAX + 1];
	unsigned nids;
	unsigned dump_items;
	uint64_t snapshots;
	int64_t last_publish_interval_ms; /* what the last REGISTER passed to the handler */
};
extern struct fake fake;
extern const struct fr_ctl_handler fake_handler;

extern struct fr_ctl_server *srv;
extern bool srv_edge; /* wait as an io_uring multishot poll does: only on new wake-ups (EPOLLET) */

/* Open the server (o, or the defaults on sock_path) with an empty fake and start its thread. */
void srv_start(const struct fr_ctl_server_opts *o);

/* Stop the server thread: counters and the fake are then safe to read from the test thread. */
void srv_pause(void);

/* Start the server thread again after srv_pause. */
void srv_resume(void);

/* Stop the thread and close the server. */
void srv_stop_all(void);

/* After each test, also a failed one: the next test needs the path free. */
int srv_cleanup(void **state);

/* cmocka group setup (temp dir, SIGPIPE ignored) and teardown (temp dir removed). */
int setup(void **state);
int teardown(void **state);

#endif /* FR_CONTROL_SERVER_FIXTURE_H */
