#ifndef DW_COMMAND_H
#define DW_COMMAND_H

#include <stddef.h>

/*
 * Run `argv` (execvp, never a shell) with `input` on its stdin and its
 * stdout sent to our stderr. It gets default signal dispositions and
 * mask, no descriptor of ours but 0-2, a clean environment (PATH, LANG),
 * and a process group of its own, killed whole after `timeout_s` seconds
 * (stdin included: a program that never reads cannot hold us). Returns 0
 * when it exited 0, DW_ERROR otherwise (the message says how it ended).
 */
int dw_run_command(char *const *argv, const char *input, size_t len,
		   int timeout_s);
/* The same, also ended (killed with its group) once *cancel is set. */
int dw_run_command_cancel(char *const *argv, const char *input, size_t len,
			  int timeout_s, const int *cancel);

#endif
