/* The YAML document helpers of the configuration readers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include "driftwatch/error.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/yamldoc.h"
#include "driftwatch/banned.h"

int dw_yaml_load(struct dw_yaml *y, const char *path)
{
	yaml_parser_t parser;
	struct stat st;
	/* A configuration is a regular file: a FIFO would hang us. */
	int fd = dw_open_regular(AT_FDCWD, path, DW_OPEN_FOLLOW, &st), err = 0;
	FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;

	y->path = path;
	if (fd == DW_EUNSUPPORTED || fd == DW_ENOTFOUND)
		return dw_error_set(fd == DW_ENOTFOUND ? DW_EIO : DW_EINVAL,
				    "cannot read %s: %s", path,
				    fd == DW_ENOTFOUND ? strerror(ENOENT)
						       : "not a regular file");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return dw_error_errno(DW_EIO, errno, "cannot read %s", path);
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &y->doc))
		err = dw_error_set(DW_EINVAL, "%s:%lu: %s", path,
				   (unsigned long)parser.problem_mark.line + 1,
				   parser.problem ? parser.problem
						  : "malformed YAML");
	yaml_parser_delete(&parser);
	fclose(f);
	return err;
}

void dw_yaml_release(struct dw_yaml *y)
{
	yaml_document_delete(&y->doc);
}

int dw_yaml_bad(const struct dw_yaml *y, const yaml_node_t *n, const char *what)
{
	return dw_error_set(DW_EINVAL, "%s:%lu: %s", y->path,
			    (unsigned long)n->start_mark.line + 1, what);
}

const char *dw_yaml_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE
		       ? (const char *)n->data.scalar.value
		       : NULL;
}

yaml_node_t *dw_yaml_node(struct dw_yaml *y, int index)
{
	return yaml_document_get_node(&y->doc, index);
}

int dw_yaml_strings(struct dw_yaml *y, yaml_node_t *n, char ***out,
		    size_t *count)
{
	yaml_node_item_t *it;
	size_t alloc = *count;

	if (n->type != YAML_SEQUENCE_NODE)
		return dw_yaml_bad(y, n, "expected a list");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *v = dw_yaml_node(y, *it);

		if (!dw_yaml_scalar(v))
			return dw_yaml_bad(y, v, "expected a string");
		DW_ALLOC_GROW(*out, *count + 1, alloc);
		(*out)[(*count)++] = dw_xstrdup(dw_yaml_scalar(v));
	}
	return 0;
}

int dw_yaml_bool(struct dw_yaml *y, yaml_node_t *n, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = dw_yaml_scalar(n);
	size_t i;

	for (i = 0; s && i < 3; i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return dw_yaml_bad(y, n, "expected true or false");
}
