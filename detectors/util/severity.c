#include <string.h>

#include "driftwatch/severity.h"

#include "driftwatch/banned.h"

static const char *const names[] = {"allowed", "low", "medium", "high",
				    "critical"};

const char *dw_severity_name(enum dw_severity s)
{
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s]
							      : "unknown";
}

int dw_severity_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}
