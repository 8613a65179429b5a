#ifndef DW_SECRETS_ARCHIVE_INT_H
#define DW_SECRETS_ARCHIVE_INT_H

/* libarchive as archive.c loads it, for the readers of this directory
 * that need more than dw_archive_scan() (image.c). */
#include <archive.h>
#include <archive_entry.h>
#include <sys/types.h>

#define ARCHIVE_SYMS(X)                                                        \
	X(archive_read_new)                                                    \
	X(archive_read_free)                                                   \
	X(archive_read_support_format_tar)                                     \
	X(archive_read_support_format_zip)                                     \
	X(archive_read_support_format_ar)                                      \
	X(archive_read_support_format_cpio)                                    \
	X(archive_read_support_format_raw)                                     \
	X(archive_read_support_format_zip_seekable)                            \
	X(archive_read_support_filter_gzip)                                    \
	X(archive_read_support_filter_bzip2)                                   \
	X(archive_read_support_filter_xz)                                      \
	X(archive_read_support_filter_lzma)                                    \
	X(archive_read_support_filter_zstd)                                    \
	X(archive_read_support_filter_lz4)                                     \
	X(archive_read_support_filter_compress)                                \
	X(archive_read_support_filter_rpm)                                     \
	X(archive_read_open)                                                   \
	X(archive_read_open1)                                                  \
	X(archive_read_set_read_callback)                                      \
	X(archive_read_set_seek_callback)                                      \
	X(archive_read_set_skip_callback)                                      \
	X(archive_read_set_callback_data)                                      \
	X(archive_filter_bytes)                                                \
	X(archive_entry_pathname_utf8)                                         \
	X(archive_read_next_header)                                            \
	X(archive_read_data)                                                   \
	X(archive_error_string)                                                \
	X(archive_set_error)                                                   \
	X(archive_format)                                                      \
	X(archive_entry_pathname)                                              \
	X(archive_entry_filetype)                                              \
	X(archive_entry_size)                                                  \
	X(archive_read_header_position)                                        \
	X(archive_filter_code)                                                 \
	X(archive_entry_symlink)                                               \
	X(archive_entry_hardlink)

struct dw_ar_table {
#define FIELD(f) __typeof__(&f) f;
	ARCHIVE_SYMS(FIELD)
#undef FIELD
};

/* archive.c's table of libarchive, filled by dw_archive_load(). */
extern struct dw_ar_table dw_ar;

/*
 * A file read by read(2) and lseek(2) (the scanner process may not
 * fstat, which libarchive's own fd reader does), from `base` on, through
 * `buf` (256 KiB, the caller's).
 */
struct dw_archive_fd {
	int fd;
	char *buf;
	off_t base; /* where the file's data start in `fd` */
	/* or, when `mem` is set, these bytes instead of fd (a git blob) */
	const char *mem;
	size_t mem_len, mem_pos;
};

/* archive_read_open1() of `a` on `o`: 0, or DW_EIO with a message. */
int dw_archive_open_fd(struct archive *a, struct dw_archive_fd *o);

#endif
