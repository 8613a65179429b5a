#ifndef DW_BANNED_H
#define DW_BANNED_H

/*
 * Calls that are easy to misuse are made compile errors; use dw_buf,
 * snprintf and strtol-based parsers instead. Included by every .c file
 * of the project (after the system headers).
 */
#define DW_BANNED(func) sorry_##func##_is_banned

#undef strcpy
#define strcpy(x, y) DW_BANNED(strcpy)
#undef strcat
#define strcat(x, y) DW_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) DW_BANNED(strncpy)
#undef sprintf
#define sprintf(...) DW_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) DW_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) DW_BANNED(strtok)
#undef atoi
#define atoi(x) DW_BANNED(atoi)
#undef atol
#define atol(x) DW_BANNED(atol)
#undef gets
#define gets(x) DW_BANNED(gets)
#undef system
#define system(x) DW_BANNED(system)
#undef popen
#define popen(x, y) DW_BANNED(popen)

#endif
