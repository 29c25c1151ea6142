/*
 * cmd_docs.c — COMMAND and its subcommands: the table described to
 * clients.  Shapes follow Redis 7, because clients parse them:
 *
 *   COMMAND / COMMAND INFO   per command an array of 10: name, arity, flags
 *                            (set of status words), first key, last key,
 *                            step, ACL categories (set), tips (set, empty),
 *                            key specs (array, empty), subcommands (array
 *                            of the same shape)
 *   COMMAND DOCS             a map name -> map of summary, since, group,
 *                            complexity, arguments (array of maps),
 *                            subcommands (map "parent|sub" -> docs)
 *
 * redis-cli 7 reads COMMAND DOCS when it starts in interactive mode and
 * asserts on the types: names, summary, since, group, an argument's name,
 * type and token must be bulk strings; an argument's flags must be simple
 * strings; "arguments" must be an array; a subcommand's name must hold a
 * '|'; every argument must have a type.  The tests check all of that.
 * Names are reported lower-case, as Redis does.
 */
#include <string.h>

#include "server/cmd_internal.h"
#include "util/check.h"

static int add_cstr(struct resp_out *out, const char *s)
{
	return resp_add_bulk(out, s, strlen(s));
}

static int add_lower_name(struct resp_out *out, const char *name)
{
	char low[64];
	cmd_lower(name, low, sizeof(low));
	return add_cstr(out, low);
}

/* Number of space-separated words in s. */
static size_t word_count(const char *s)
{
	size_t n = 0;
	for (size_t i = 0; s[i] != '\0'; i++)
		if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
			n++;
	return n;
}

/* The words of s as a set of simple strings. */
static int add_words(struct resp_out *out, int proto, const char *s)
{
	int rc = resp_add_set(out, proto, word_count(s));
	for (size_t i = 0; s[i] != '\0' && rc == 0;) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (s[j] != '\0' && s[j] != ' ')
			j++;
		rc = resp_add_simple(out, s + i, j - i);
		i = j;
	}
	return rc;
}

static uint32_t visible_subs(const cmd_spec *s)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->subcommand_count; i++)
		n += (s->subcommands[i].flags & CMD_F_HIDDEN) ? 0 : 1;
	return n;
}

/* --- COMMAND INFO ------------------------------------------------------------- */

static int add_info(struct resp_out *out, int proto, const cmd_spec *s)
{
	int rc = resp_add_array(out, 10);
	if (rc == 0)
		rc = add_lower_name(out, s->name);
	if (rc == 0)
		rc = resp_add_int(out, s->arity);
	if (rc == 0)
		rc = add_words(out, proto, s->info_flags != NULL ? s->info_flags : "");
	if (rc == 0)
		rc = resp_add_int(out, s->first_key);
	if (rc == 0)
		rc = resp_add_int(out, s->last_key);
	if (rc == 0)
		rc = resp_add_int(out, s->key_step);
	if (rc == 0)
		rc = add_words(out, proto,
			       s->acl_categories != NULL ? s->acl_categories : "");
	if (rc == 0)
		rc = resp_add_set(out, proto, 0); /* tips */
	if (rc == 0)
		rc = resp_add_array(out, 0); /* key specs */
	if (rc == 0)
		rc = resp_add_array(out, visible_subs(s));
	for (uint32_t i = 0; i < s->subcommand_count && rc == 0; i++)
		if (!(s->subcommands[i].flags & CMD_F_HIDDEN))
			rc = add_info(out, proto, &s->subcommands[i]);
	return rc;
}

/* --- COMMAND DOCS ------------------------------------------------------------- */

static int add_args(struct resp_out *out, int proto, const cmd_arg_doc *args, uint32_t n);

static int add_arg(struct resp_out *out, int proto, const cmd_arg_doc *a)
{
	RP_CHECK(a->name != NULL && a->type != NULL);
	size_t flag_count = ((a->flags & CMD_ARG_OPTIONAL) ? 1u : 0u) +
			    ((a->flags & CMD_ARG_MULTIPLE) ? 1u : 0u) +
			    ((a->flags & CMD_ARG_MULTIPLE_TOKEN) ? 1u : 0u);
	size_t pairs =
	    2u + (a->token ? 1u : 0u) + (flag_count ? 1u : 0u) + (a->arg_count ? 1u : 0u);
	int rc = resp_add_map(out, proto, pairs);
	if (rc == 0)
		rc = add_cstr(out, "name");
	if (rc == 0)
		rc = add_cstr(out, a->name);
	if (rc == 0)
		rc = add_cstr(out, "type");
	if (rc == 0)
		rc = add_cstr(out, a->type);
	if (rc == 0 && a->token != NULL) {
		rc = add_cstr(out, "token");
		if (rc == 0)
			rc = add_cstr(out, a->token);
	}
	if (rc == 0 && flag_count > 0) {
		rc = add_cstr(out, "flags");
		if (rc == 0)
			rc = resp_add_set(out, proto, flag_count);
		if (rc == 0 && (a->flags & CMD_ARG_OPTIONAL))
			rc = resp_add_simple(out, "optional", 8);
		if (rc == 0 && (a->flags & CMD_ARG_MULTIPLE))
			rc = resp_add_simple(out, "multiple", 8);
		if (rc == 0 && (a->flags & CMD_ARG_MULTIPLE_TOKEN))
			rc = resp_add_simple(out, "multiple_token", 14);
	}
	if (rc == 0 && a->arg_count > 0) {
		rc = add_cstr(out, "arguments");
		if (rc == 0)
			rc = add_args(out, proto, a->args, a->arg_count);
	}
	return rc;
}

static int add_args(struct resp_out *out, int proto, const cmd_arg_doc *args, uint32_t n)
{
	int rc = resp_add_array(out, n);
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = add_arg(out, proto, &args[i]);
	return rc;
}

static int add_docs(struct resp_out *out, int proto, const cmd_spec *s)
{
	uint32_t subs = visible_subs(s);
	size_t pairs = 4u + (s->arg_count ? 1u : 0u) + (subs ? 1u : 0u);
	int rc = resp_add_map(out, proto, pairs);
	if (rc == 0)
		rc = add_cstr(out, "summary");
	if (rc == 0)
		rc = add_cstr(out, s->summary);
	if (rc == 0)
		rc = add_cstr(out, "since");
	if (rc == 0)
		rc = add_cstr(out, s->since);
	if (rc == 0)
		rc = add_cstr(out, "group");
	if (rc == 0)
		rc = add_cstr(out, s->group);
	if (rc == 0)
		rc = add_cstr(out, "complexity");
	if (rc == 0)
		rc = add_cstr(out, s->complexity);
	if (rc == 0 && s->arg_count > 0) {
		rc = add_cstr(out, "arguments");
		if (rc == 0)
			rc = add_args(out, proto, s->args, s->arg_count);
	}
	if (rc == 0 && subs > 0) {
		rc = add_cstr(out, "subcommands");
		if (rc == 0)
			rc = resp_add_map(out, proto, subs);
		for (uint32_t i = 0; i < s->subcommand_count && rc == 0; i++) {
			const cmd_spec *sub = &s->subcommands[i];
			if (sub->flags & CMD_F_HIDDEN)
				continue;
			rc = add_lower_name(out, sub->name);
			if (rc == 0)
				rc = add_docs(out, proto, sub);
		}
	}
	return rc;
}

/* A command or "parent|sub" by name; NULL if unknown or hidden. */
static const cmd_spec *find_full(const struct resp_arg *a)
{
	const char *bar = memchr(a->ptr, '|', a->len);
	size_t top_len = bar != NULL ? (size_t)(bar - a->ptr) : a->len;
	const cmd_spec *s = cmd_lookup(a->ptr, top_len);
	if (s == NULL || bar == NULL)
		return s;
	s = cmd_lookup_sub(s, bar + 1, a->len - top_len - 1);
	return s != NULL && !(s->flags & CMD_F_HIDDEN) ? s : NULL;
}

/* --- COMMAND LIST and GETKEYS -------------------------------------------------- */

typedef struct {
	int kind; /* 0 all, 1 module (none), 2 ACL category, 3 pattern */
	const struct resp_arg *arg;
} list_filter;

static bool has_category(const char *cats, const struct resp_arg *want)
{
	/* cats "@read @string ..."; want with or without its '@' */
	struct resp_arg bare = *want;
	if (bare.len > 0 && bare.ptr[0] == '@') {
		bare.ptr++;
		bare.len--;
	}
	want = &bare;
	for (size_t i = 0; cats[i] != '\0';) {
		if (cats[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (cats[j] != '\0' && cats[j] != ' ')
			j++;
		const char *w = cats + i + (cats[i] == '@' ? 1 : 0);
		size_t wn = (size_t)(cats + j - w);
		if (wn == want->len) {
			bool eq = true;
			for (size_t k = 0; k < wn && eq; k++) {
				char c = want->ptr[k];
				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				eq = c == w[k];
			}
			if (eq)
				return true;
		}
		i = j;
	}
	return false;
}

static bool list_keep(const list_filter *f, const cmd_spec *s)
{
	char low[64];
	switch (f->kind) {
	case 0:
		return true;
	case 1:
		return false; /* no modules */
	case 2:
		return has_category(s->acl_categories ? s->acl_categories : "", f->arg);
	default:
		cmd_lower(s->name, low, sizeof(low));
		return cmd_glob_match(f->arg->ptr, f->arg->len, low, strlen(low), true);
	}
}

/* Counts (out NULL) or appends the names that pass f. */
static int list_names(struct resp_out *out, const list_filter *f, size_t *count)
{
	size_t n = 0;
	const cmd_spec *t = cmd_table(&n);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (list_keep(f, &t[i])) {
			(*count)++;
			if (out != NULL)
				rc = add_lower_name(out, t[i].name);
		}
		for (uint32_t k = 0; k < t[i].subcommand_count && rc == 0; k++) {
			const cmd_spec *s = &t[i].subcommands[k];
			if ((s->flags & CMD_F_HIDDEN) || !list_keep(f, s))
				continue;
			(*count)++;
			if (out != NULL)
				rc = add_lower_name(out, s->name);
		}
	}
	return rc;
}

static int getkeys(size_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	const struct resp_arg *cargv = argv + 2;
	size_t cargc = argc - 2;
	const cmd_spec *s = cmd_lookup(cargv[0].ptr, cargv[0].len);
	if (s != NULL && s->subcommand_count > 0)
		s = cargc >= 2 ? cmd_lookup_sub(s, cargv[1].ptr, cargv[1].len) : NULL;
	if (s == NULL)
		return cmd_err(out, "ERR Invalid command specified");
	if (s->first_key <= 0)
		return cmd_err(out, "ERR The command has no key arguments");
	if (s->arity > 0 ? cargc != (size_t)s->arity : cargc < (size_t)-s->arity)
		return cmd_err(out,
			       "ERR Invalid number of arguments specified for command");
	size_t first = (size_t)s->first_key;
	size_t last =
	    s->last_key >= 0 ? (size_t)s->last_key : cargc - (size_t)(-s->last_key);
	size_t step = (size_t)s->key_step, n = 0;
	for (size_t i = first; i <= last && i < cargc; i += step)
		n++;
	int rc = resp_add_array(out, n);
	for (size_t i = first; i <= last && i < cargc && rc == 0; i += step)
		rc = resp_add_bulk(out, cargv[i].ptr, cargv[i].len);
	return rc;
}

static const char *const command_help[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the number of commands.",
    "DOCS [<command-name> ...]",
    "    Return the documentation of the named commands, or of all of them.",
    "GETKEYS <full-command>",
    "    Return the keys of a full command.",
    "INFO [<command-name> ...]",
    "    Return details about the named commands, or about all of them.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return the names of the commands, optionally filtered.",
    "HELP",
    "    Print this help.",
};

int cmd_command_exec(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		     int proto, struct resp_out *out)
{
	RP_CHECK(spec != NULL && spec->id == CMD_ID_COMMAND);
	size_t n = 0;
	const cmd_spec *t = cmd_table(&n);
	int rc = 0;
	if (argc == 1) {
		rc = resp_add_array(out, n);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = add_info(out, proto, &t[i]);
		return rc;
	}
	const cmd_spec *sub = cmd_lookup_sub(spec, argv[1].ptr, argv[1].len);
	if (sub == NULL) {
		rc = cmd_err_subcommand(out, "COMMAND", &argv[1]);
		return rc == RP_ERR_INVALID ? 0 : rc;
	}
	switch (sub->id) {
	case CMD_ID_COMMAND_COUNT:
		return resp_add_int(out, (int64_t)n);
	case CMD_ID_COMMAND_INFO:
		if (argc == 2) {
			rc = resp_add_array(out, n);
			for (size_t i = 0; i < n && rc == 0; i++)
				rc = add_info(out, proto, &t[i]);
			return rc;
		}
		rc = resp_add_array(out, argc - 2);
		for (size_t i = 2; i < argc && rc == 0; i++) {
			const cmd_spec *s = find_full(&argv[i]);
			rc = s != NULL ? add_info(out, proto, s)
				       : resp_add_null(out, proto);
		}
		return rc;
	case CMD_ID_COMMAND_DOCS: {
		if (argc == 2) {
			rc = resp_add_map(out, proto, n);
			for (size_t i = 0; i < n && rc == 0; i++) {
				rc = add_lower_name(out, t[i].name);
				if (rc == 0)
					rc = add_docs(out, proto, &t[i]);
			}
			return rc;
		}
		size_t found = 0;
		for (size_t i = 2; i < argc; i++)
			found += find_full(&argv[i]) != NULL ? 1 : 0;
		rc = resp_add_map(out, proto, found);
		for (size_t i = 2; i < argc && rc == 0; i++) {
			const cmd_spec *s = find_full(&argv[i]);
			if (s == NULL)
				continue;
			rc = add_lower_name(out, s->name);
			if (rc == 0)
				rc = add_docs(out, proto, s);
		}
		return rc;
	}
	case CMD_ID_COMMAND_LIST: {
		list_filter f = {0, NULL};
		if (argc == 5 && cmd_arg_is(&argv[2], "FILTERBY")) {
			f.arg = &argv[4];
			if (cmd_arg_is(&argv[3], "MODULE"))
				f.kind = 1;
			else if (cmd_arg_is(&argv[3], "ACLCAT"))
				f.kind = 2;
			else if (cmd_arg_is(&argv[3], "PATTERN"))
				f.kind = 3;
			else
				f.kind = -1;
		} else if (argc != 2) {
			f.kind = -1;
		}
		if (f.kind < 0) {
			rc = cmd_err(out, CMD_ERR_SYNTAX);
			return rc == RP_ERR_INVALID ? 0 : rc;
		}
		size_t count = 0;
		RP_CHECK(list_names(NULL, &f, &count) == 0);
		rc = resp_add_array(out, count);
		size_t again = 0;
		if (rc == 0)
			rc = list_names(out, &f, &again);
		RP_CHECK(rc != 0 || again == count);
		return rc;
	}
	case CMD_ID_COMMAND_GETKEYS:
		rc = getkeys(argc, argv, out);
		return rc == RP_ERR_INVALID ? 0 : rc;
	case CMD_ID_COMMAND_HELP: {
		size_t lines = sizeof(command_help) / sizeof(command_help[0]);
		rc = resp_add_array(out, lines);
		for (size_t i = 0; i < lines && rc == 0; i++)
			rc = resp_add_simple(out, command_help[i],
					     strlen(command_help[i]));
		return rc;
	}
	default:
		RP_CHECK(0);
		return RP_ERR_INVALID;
	}
}
