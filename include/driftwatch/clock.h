#ifndef DW_CLOCK_H
#define DW_CLOCK_H

/* Milliseconds on the monotonic clock (deadlines, budgets, intervals).
 * Async-signal-safe (clock_gettime). */
long long dw_mono_ms(void);

#endif
