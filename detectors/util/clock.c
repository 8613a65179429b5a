#include <time.h>

#include "driftwatch/clock.h"

#include "driftwatch/banned.h"

long long dw_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
