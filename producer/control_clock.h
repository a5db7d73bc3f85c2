/* control_clock.h - the control socket's clock: CLOCK_MONOTONIC milliseconds, shared by the
 * server's idle timers and the client's deadlines so both measure time the same way. */
#ifndef FR_CONTROL_CLOCK_H
#define FR_CONTROL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t fr_ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* FR_CONTROL_CLOCK_H */
