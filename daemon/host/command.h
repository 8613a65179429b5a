#ifndef DW_COMMAND_H
#define DW_COMMAND_H

#include <stddef.h>

/*
 * Run `argv` (execvp, never a shell) with `input` on its stdin and its
 * stdout sent to our stderr; kill it after `timeout_s` seconds. Returns
 * 0 when it exited 0, DW_ERROR otherwise (the message says how it ended).
 */
int dw_run_command(char *const *argv, const char *input, size_t len,
		   int timeout_s);

#endif
