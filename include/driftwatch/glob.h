#ifndef DW_GLOB_H
#define DW_GLOB_H

/*
 * driftwatch's one glob dialect, for every allow rule, path list and image
 * pattern (driftwatch.yaml(5) documents it):
 *   '*'    any run of characters within one path component (not '/')
 *   '?'    any one character but '/'
 *   '**'   any run of characters, '/' included; '**' followed by '/' also
 *          matches no directory at all ("a/", '**', "/b" matches "a/b")
 *   '/' and '**' at the end also match the directory itself (so "d/"
 *          followed by '**' matches "d")
 * Every other byte matches itself; there are no character classes and no
 * escapes. Matching is anchored at both ends.
 *
 * The cost is O(strlen(glob) * strlen(s)) time and O(strlen(s)) memory
 * whatever the input (no backtracking): `s` is often a path that a
 * container chose.
 */
int dw_glob_match(const char *glob, const char *s);

/*
 * The same for a path relative to a scanned root ("./" prefixes ignored):
 * a glob without '/' matches the last component (as in .gitignore), any
 * other glob the whole relative path.
 */
int dw_glob_match_rel(const char *glob, const char *path);

#endif
