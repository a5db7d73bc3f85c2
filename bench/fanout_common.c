/* fanout_common.c - writer loop, reader accounting and synchronisation shared by bench_fanout's
 * transports (see fanout_common.h for the process model). */
#define _GNU_SOURCE
#include "fanout_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t fanout_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t fanout_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void fanout_sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void fanout_fill(struct fr_conn *c, uint64_t seq, uint64_t ts_ns)
{
	/* a plausible closed TCP connection; only cookie and last_update_ns change per record */
	memset(c, 0, sizeof(*c));
	c->saddr[0] = 127, c->saddr[3] = 1;
	c->daddr[0] = 127, c->daddr[3] = 1;
	c->sport = 40000, c->dport = 443;
	c->monotonic_sent_bytes = 1500, c->monotonic_recv_bytes = 64000;
	c->flags = FR_CONN_F_CLOSED;
	c->cookie = seq;
	c->last_update_ns = ts_ns;
}

void fanout_set_error(struct fanout_ctl *ctl, const char *fmt, ...)
{
	char buf[sizeof(ctl->error)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* first error wins; a racing second writer of the buffer only garbles a diagnostic */
	if (ctl->error[0] == '\0')
		memcpy(ctl->error, buf, sizeof(buf));
	fprintf(stderr, "bench_fanout[%s]: %s\n", ctl->name, buf);
}

int fanout_writer_start(struct fanout_ctl *ctl, const struct fanout_writer_ops *ops)
{
	uint64_t deadline = fanout_now_ns() + 20000000000ull;
	/* release: the readers' acquire load of writer_ready (via the coordinator, which forks them
	 * only after it saw it) finds the writer's side set up */
	__atomic_store_n(&ctl->writer_ready, 1, __ATOMIC_RELEASE);
	for (;;) {
		/* acquire: pairs with fanout_rx_ready's release increment */
		int ready = __atomic_load_n(&ctl->readers_ready, __ATOMIC_ACQUIRE) == (int)ctl->readers;
		if (ready && (!ops->subscribed || ops->subscribed(ops->arg)))
			return 0;
		if (fanout_now_ns() > deadline) {
			fanout_set_error(ctl, "writer: readers not attached after 20 s (%d of %u ready)",
					 __atomic_load_n(&ctl->readers_ready, __ATOMIC_ACQUIRE), ctl->readers);
			return -ETIMEDOUT;
		}
		if (ops->idle)
			ops->idle(ops->arg);
		fanout_sleep_us(1000);
	}
}

void fanout_writer_run(struct fanout_ctl *ctl, const struct fanout_writer_ops *ops)
{
	struct fr_conn c;
	uint64_t n = ctl->count, cpu0 = fanout_cpu_ns(), t0 = fanout_now_ns(), ts = t0;
	fanout_fill(&c, 0, t0);
	ctl->t_start_ns = t0;
	if (ctl->phase == FANOUT_PACED) {
		uint64_t period = 1000000000ull / (ctl->rate ? ctl->rate : 1);
		uint64_t i;
		for (i = 0; i < n; i++) {
			uint64_t due = t0 + i * period;
			if (due - t0 > ctl->max_ns)
				break;
			struct timespec d = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
				;
			c.cookie = i;
			c.last_update_ns = fanout_now_ns();
			ops->publish(ops->arg, &c);
			ops->batch_end(ops->arg, c.last_update_ns, 1);
		}
		ctl->published = i;
	} else {
		uint64_t i;
		for (i = 0; i < n; i++) {
			c.cookie = i;
			c.last_update_ns = ts;
			ops->publish(ops->arg, &c);
			if (i % FANOUT_BATCH == FANOUT_BATCH - 1) {
				ts = fanout_now_ns();
				ops->batch_end(ops->arg, ts, 0);
				if (ts - t0 > ctl->max_ns) {
					i++;
					break;
				}
			}
		}
		ctl->published = i;
		ops->batch_end(ops->arg, fanout_now_ns(), 1); /* going idle: the final flush */
	}
	ctl->t_end_ns = fanout_now_ns();
	ctl->writer_loop_cpu_ns = fanout_cpu_ns() - cpu0;
	ctl->writer_cpu_ns = cpu0; /* start mark; fanout_writer_finish turns it into a duration */
	/* release: pairs with fanout_rx_writer_done's acquire; every record is published before */
	__atomic_store_n(&ctl->done, 1, __ATOMIC_RELEASE);
}

int fanout_writer_finish(struct fanout_ctl *ctl, const struct fanout_writer_ops *ops)
{
	uint64_t deadline = fanout_now_ns() + 60000000000ull;
	int rc = 0;
	/* acquire: pairs with fanout_rx_end's release increment */
	while (__atomic_load_n(&ctl->readers_done, __ATOMIC_ACQUIRE) < (int)ctl->readers) {
		if (fanout_now_ns() > deadline) {
			fanout_set_error(ctl, "writer: readers not done 60 s after the last record");
			rc = -ETIMEDOUT;
			break;
		}
		if (ops->idle)
			ops->idle(ops->arg);
		fanout_sleep_us(5000); /* rare wake-ups: this wait is charged to the writer's CPU */
	}
	/* includes whatever the transport's own threads (zmq I/O thread) spent delivering */
	ctl->writer_cpu_ns = fanout_cpu_ns() - ctl->writer_cpu_ns;
	/* release: pairs with the coordinator's acquire; the figures above are complete */
	__atomic_store_n(&ctl->measured, 1, __ATOMIC_RELEASE);
	return rc;
}

void fanout_rx_init(struct fanout_rx *rx, struct fanout_ctl *ctl, unsigned idx)
{
	memset(rx, 0, sizeof(*rx));
	rx->ctl = ctl;
	rx->res = &ctl->r[idx];
	rx->lat = ctl->lat_cap ? (uint64_t *)(void *)((char *)ctl + ctl->lat_off) + (uint64_t)idx * ctl->lat_cap : NULL;
}

void fanout_rx_ready(struct fanout_rx *rx)
{
	rx->cpu0 = fanout_cpu_ns();
	/* release: pairs with fanout_writer_start's acquire load; I am attached before it publishes */
	__atomic_fetch_add(&rx->ctl->readers_ready, 1, __ATOMIC_RELEASE);
}

int fanout_rx_record(struct fanout_rx *rx, uint64_t seq, uint64_t ts_ns)
{
	struct fanout_reader_res *res = rx->res;
	if (seq >= rx->next_seq) {
		res->lost_gaps += seq - rx->next_seq;
		rx->next_seq = seq + 1;
	} /* an older sequence cannot happen on these transports; it would be counted as received */
	res->received++;
	int last = seq + 1 == rx->ctl->count;
	if (rx->lat || last || ++rx->unstamped == FANOUT_BATCH) {
		uint64_t now = fanout_now_ns();
		res->t_last_ns = now;
		rx->unstamped = 0;
		if (rx->lat && res->n_lat < rx->ctl->lat_cap)
			rx->lat[res->n_lat++] = now - ts_ns;
	}
	return last;
}

void fanout_rx_idle(struct fanout_rx *rx)
{
	if (rx->unstamped) {
		rx->res->t_last_ns = fanout_now_ns();
		rx->unstamped = 0;
	}
}

int fanout_rx_writer_done(const struct fanout_rx *rx)
{
	/* acquire: pairs with the release store in fanout_writer_run */
	return __atomic_load_n(&rx->ctl->done, __ATOMIC_ACQUIRE);
}

void fanout_rx_end(struct fanout_rx *rx, int status)
{
	struct fanout_reader_res *res = rx->res;
	/* done (acquire) makes published valid; a reader that saw the last record needs neither */
	uint64_t total = fanout_rx_writer_done(rx) ? rx->ctl->published : rx->ctl->count;
	fanout_rx_idle(rx);
	if (rx->next_seq < total) /* the tail never arrived */
		res->lost_gaps += total - rx->next_seq;
	res->cpu_ns = fanout_cpu_ns() - rx->cpu0;
	res->status = status;
	res->finished = 1;
	/* release: pairs with fanout_writer_finish's and the coordinator's acquire loads */
	__atomic_fetch_add(&rx->ctl->readers_done, 1, __ATOMIC_RELEASE);
}
