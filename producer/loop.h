/* loop.h - flowringd's event loop: one io_uring that polls every fd the daemon watches.
 *
 * The daemon's single writer thread runs fr_loop_run(); everything it reacts to is an fd: the BPF
 * ring buffer's epoll fd, the conntrack netlink socket, the control socket and its connections,
 * a signalfd, and timers (timerfd, created here). Each source is a multishot POLL_ADD, so an idle
 * source costs nothing and a busy one is not re-armed per event.
 *
 * Contract: not thread-safe; every function except fr_loop_stop() is called from the thread
 * that runs the loop (callbacks included). fr_loop_stop() may be called from any thread and is
 * async-signal-safe (it writes an eventfd).
 */
#ifndef FR_LOOP_H
#define FR_LOOP_H

#include <stdint.h>

struct fr_loop;
struct fr_loop_src;

/* Called with the poll revents (POLLIN, POLLERR...). For a timer, revents is POLLIN and the
 * expirations were already read. Return 0 to go on, a negative errno to stop the loop: fr_loop_run()
 * then returns that value. */
typedef int (*fr_loop_fn)(void *ctx, uint32_t revents);

/* Create a loop. Returns NULL with errno set (ENOMEM, or io_uring_queue_init's error). */
struct fr_loop *fr_loop_new(unsigned entries);

/* Stop watching everything, close the timers' fds and the ring. Sources' own fds stay open. */
void fr_loop_free(struct fr_loop *l);

/* Watch fd for events (POLLIN...). *out (optional) identifies the source for fr_loop_remove(). */
int fr_loop_add_fd(struct fr_loop *l, int fd, uint32_t events, fr_loop_fn fn, void *ctx, struct fr_loop_src **out);

/* A periodic timer on CLOCK_MONOTONIC: fn runs every interval_ns (first run after one interval).
 * Missed expirations are coalesced into one call. */
int fr_loop_add_timer(struct fr_loop *l, uint64_t interval_ns, fr_loop_fn fn, void *ctx, struct fr_loop_src **out);

/* Change a timer's period (0 disarms it). */
int fr_loop_timer_set(struct fr_loop_src *s, uint64_t interval_ns);

/* Stop watching a source. Safe from inside any callback, including the source's own; fn is never
 * called for it again. A timer's fd is closed; a plain fd is not. */
void fr_loop_remove(struct fr_loop *l, struct fr_loop_src *s);

/* Run until fr_loop_stop() or a callback returns an error. Returns 0 or that negative errno. */
int fr_loop_run(struct fr_loop *l);

/* Ask the loop to return from fr_loop_run() soon. Any thread, async-signal-safe. */
void fr_loop_stop(struct fr_loop *l);

#endif /* FR_LOOP_H */
