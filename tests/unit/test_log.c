/* test_log.c — the logger: line format, level filter, cutting and cleaning
 * of messages, reopen after rotation, and whole lines under concurrency. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "util/err.h"
#include "util/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FILE_BUF_BYTES = 1 << 23 };
static char file_buf[FILE_BUF_BYTES];

/* A fresh directory under /tmp; its path goes to dir (64 bytes). */
static void make_dir(char *dir)
{
	strcpy(dir, "/tmp/rp_test_log_XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static void join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	CHECK(n > 0 && (size_t)n < cap);
}

/* Reads the whole file into file_buf (NUL-terminated); returns its size. */
static size_t slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, file_buf + len, FILE_BUF_BYTES - 1 - len);
		CHECK(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
		CHECK(len < FILE_BUF_BYTES - 1);
	}
	close(fd);
	file_buf[len] = '\0';
	return len;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "2026-11-22T00:40:00.123Z L " at the start of line. */
static bool header_ok(const char *line, char letter)
{
	const char *pat = "dddd-dd-ddTdd:dd:dd.dddZ L ";
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'd') {
			if (!is_digit(line[i]))
				return false;
		} else if (pat[i] == 'L') {
			if (line[i] != letter)
				return false;
		} else if (line[i] != pat[i]) {
			return false;
		}
	}
	return true;
}

enum { HDR_BYTES = 27 }; /* "2026-11-22T00:40:00.123Z I " */

static void open_log(const char *path, rp_log_level level)
{
	char err[256];
	int rc = rp_log_open(path, level, err, sizeof(err));
	if (rc != 0)
		printf("    %s\n", err);
	CHECK_EQ(rc, 0);
}

TEST(parse_level_names)
{
	rp_log_level l = RP_LOG_ERROR;
	CHECK_EQ(rp_log_parse_level("debug", &l), 0);
	CHECK_EQ(l, RP_LOG_DEBUG);
	CHECK_EQ(rp_log_parse_level("INFO", &l), 0);
	CHECK_EQ(l, RP_LOG_INFO);
	CHECK_EQ(rp_log_parse_level("warn", &l), 0);
	CHECK_EQ(l, RP_LOG_WARN);
	CHECK_EQ(rp_log_parse_level("Warning", &l), 0);
	CHECK_EQ(l, RP_LOG_WARN);
	CHECK_EQ(rp_log_parse_level("error", &l), 0);
	CHECK_EQ(l, RP_LOG_ERROR);
	CHECK(rp_log_parse_level("verbose", &l) == RP_ERR_INVALID);
	CHECK(rp_log_parse_level("", &l) == RP_ERR_INVALID);
	CHECK(rp_log_parse_level("info ", &l) == RP_ERR_INVALID);
	CHECK(rp_log_parse_level(NULL, &l) == RP_ERR_INVALID);
	CHECK_EQ(l, RP_LOG_ERROR);
	CHECK(strcmp(rp_log_level_name(RP_LOG_WARN), "warn") == 0);
	CHECK(strcmp(rp_log_level_name(RP_LOG_DEBUG), "debug") == 0);
}

TEST(line_format_with_prefix)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_DEBUG);
	rp_log_set_prefix("n3");
	RP_INFO("hello %d", 42);
	RP_DEBUG("d");
	RP_WARN("w");
	RP_ERROR("e");
	rp_log_set_prefix(NULL);
	rp_log_close();

	slurp(path);
	CHECK_EQ(count_lines(file_buf), 4);
	const char *l = file_buf;
	CHECK(header_ok(l, 'I'));
	CHECK(strncmp(l + HDR_BYTES, "n3 hello 42\n", 12) == 0);
	l = strchr(l, '\n') + 1;
	CHECK(header_ok(l, 'D'));
	CHECK(strncmp(l + HDR_BYTES, "n3 d\n", 5) == 0);
	l = strchr(l, '\n') + 1;
	CHECK(header_ok(l, 'W'));
	l = strchr(l, '\n') + 1;
	CHECK(header_ok(l, 'E'));
	CHECK(strncmp(l + HDR_BYTES, "n3 e\n", 5) == 0);
	unlink(path);
	rmdir(dir);
}

TEST(timestamp_is_current_utc)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	time_t before = time(NULL);
	RP_INFO("now");
	time_t after = time(NULL);
	rp_log_close();
	slurp(path);
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	/* Parse the seconds-resolution part back and compare as UTC. */
	char y[5] = {0}, mo[3] = {0}, d[3] = {0}, h[3] = {0}, mi[3] = {0}, s[3] = {0};
	memcpy(y, file_buf, 4);
	memcpy(mo, file_buf + 5, 2);
	memcpy(d, file_buf + 8, 2);
	memcpy(h, file_buf + 11, 2);
	memcpy(mi, file_buf + 14, 2);
	memcpy(s, file_buf + 17, 2);
	struct tm b;
	CHECK(gmtime_r(&before, &b) != NULL);
	struct tm a;
	CHECK(gmtime_r(&after, &a) != NULL);
	int logged = ((atoi(h) * 60 + atoi(mi)) * 60 + atoi(s));
	int lo = (b.tm_hour * 60 + b.tm_min) * 60 + b.tm_sec;
	int hi = (a.tm_hour * 60 + a.tm_min) * 60 + a.tm_sec;
	CHECK_EQ(atoi(y), b.tm_year + 1900);
	CHECK_EQ(atoi(mo), b.tm_mon + 1);
	CHECK_EQ(atoi(d), b.tm_mday);
	CHECK(logged >= lo && (logged <= hi || hi < lo));
	unlink(path);
	rmdir(dir);
}

TEST(no_prefix_no_double_space)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	rp_log_set_prefix("");
	RP_INFO("plain");
	rp_log_close();
	slurp(path);
	CHECK(header_ok(file_buf, 'I'));
	CHECK(strcmp(file_buf + HDR_BYTES, "plain\n") == 0);
	unlink(path);
	rmdir(dir);
}

TEST(prefix_is_cut_and_cleaned)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	char longp[200];
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	longp[0] = '\n';
	rp_log_set_prefix(longp);
	RP_INFO("m");
	rp_log_set_prefix(NULL);
	rp_log_close();
	slurp(path);
	const char *p = file_buf + HDR_BYTES;
	CHECK(p[0] == '?');
	CHECK_EQ(strspn(p + 1, "p"), RP_LOG_PREFIX_MAX - 2);
	CHECK(strcmp(p + RP_LOG_PREFIX_MAX - 1, " m\n") == 0);
	unlink(path);
	rmdir(dir);
}

TEST(level_filter)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_WARN);
	CHECK(rp_log_get_level() == RP_LOG_WARN);
	CHECK(!rp_log_enabled(RP_LOG_DEBUG));
	CHECK(!rp_log_enabled(RP_LOG_INFO));
	CHECK(rp_log_enabled(RP_LOG_WARN));
	CHECK(rp_log_enabled(RP_LOG_ERROR));
	RP_DEBUG("no-debug");
	RP_INFO("no-info");
	RP_WARN("yes-warn");
	RP_ERROR("yes-error");
	rp_log_set_level(RP_LOG_ERROR);
	RP_WARN("no-warn");
	RP_ERROR("yes-error2");
	rp_log_set_level(RP_LOG_DEBUG);
	RP_DEBUG("yes-debug");
	rp_log_set_level(RP_LOG_INFO);
	rp_log_close();
	slurp(path);
	CHECK_EQ(count_lines(file_buf), 4);
	CHECK(strstr(file_buf, "no-") == NULL);
	CHECK(strstr(file_buf, "yes-warn") != NULL);
	CHECK(strstr(file_buf, "yes-error\n") != NULL);
	CHECK(strstr(file_buf, "yes-error2") != NULL);
	CHECK(strstr(file_buf, "yes-debug") != NULL);
	unlink(path);
	rmdir(dir);
}

static int side_effects;
static int bump(void)
{
	return ++side_effects;
}

TEST(enabled_guard_skips_expensive_arguments)
{
	rp_log_set_level(RP_LOG_ERROR);
	side_effects = 0;
	if (rp_log_enabled(RP_LOG_DEBUG))
		RP_DEBUG("%d", bump());
	CHECK_EQ(side_effects, 0);
	rp_log_set_level(RP_LOG_INFO);
}

TEST(long_message_is_cut_at_4k)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	static char big[10000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	RP_INFO("%s", big);
	RP_INFO("after");
	rp_log_close();
	size_t len = slurp(path);
	CHECK_EQ(count_lines(file_buf), 2);
	const char *nl = strchr(file_buf, '\n');
	CHECK_EQ((size_t)(nl - file_buf) + 1, RP_LOG_LINE_MAX);
	CHECK(strncmp(nl - 3, "...", 3) == 0);
	CHECK(nl[-4] == 'x');
	CHECK(len == RP_LOG_LINE_MAX + HDR_BYTES + strlen("after\n"));
	unlink(path);
	rmdir(dir);
}

TEST(message_that_fits_exactly_is_not_cut)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	static char msg[RP_LOG_LINE_MAX];
	size_t fit = RP_LOG_LINE_MAX - HDR_BYTES - 1;
	memset(msg, 'y', fit);
	msg[fit] = '\0';
	RP_INFO("%s", msg);
	msg[fit] = 'z';
	msg[fit + 1] = '\0';
	RP_INFO("%s", msg);
	rp_log_close();
	size_t len = slurp(path);
	CHECK_EQ(len, 2 * RP_LOG_LINE_MAX);
	CHECK(file_buf[RP_LOG_LINE_MAX - 2] == 'y');
	CHECK(file_buf[RP_LOG_LINE_MAX - 1] == '\n');
	CHECK(strncmp(file_buf + 2 * RP_LOG_LINE_MAX - 4, "...\n", 4) == 0);
	unlink(path);
	rmdir(dir);
}

TEST(cr_lf_and_controls_are_replaced)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	RP_INFO("key=%s end", "a\r\nb\nc\x1b[31m\td\x7f");
	rp_log_close();
	slurp(path);
	CHECK_EQ(count_lines(file_buf), 1);
	CHECK(strcmp(file_buf + HDR_BYTES, "key=a  b c?[31m\td? end\n") == 0);
	unlink(path);
	rmdir(dir);
}

TEST(open_appends_to_existing_file)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "old line\n", 9) == 9);
	close(fd);
	open_log(path, RP_LOG_INFO);
	RP_INFO("new line");
	rp_log_close();
	slurp(path);
	CHECK(strncmp(file_buf, "old line\n", 9) == 0);
	CHECK(strcmp(file_buf + 9 + HDR_BYTES, "new line\n") == 0);
	unlink(path);
	rmdir(dir);
}

TEST(reopen_after_rename_writes_to_new_file)
{
	char dir[64], path[128], rotated[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	join(rotated, sizeof(rotated), dir, "r.log.1");
	open_log(path, RP_LOG_INFO);
	RP_INFO("first");
	CHECK_EQ(rename(path, rotated), 0);
	RP_INFO("second"); /* before the reopen: still the renamed file */
	CHECK_EQ(rp_log_reopen(), 0);
	RP_INFO("third");
	CHECK_EQ(rp_log_reopen(), 0); /* reopening the same file is harmless */
	RP_INFO("fourth");
	rp_log_close();

	slurp(rotated);
	CHECK_EQ(count_lines(file_buf), 2);
	CHECK(strstr(file_buf, "first\n") != NULL);
	CHECK(strstr(file_buf, "second\n") != NULL);
	slurp(path);
	CHECK_EQ(count_lines(file_buf), 2);
	CHECK(strstr(file_buf, "third\n") != NULL);
	CHECK(strstr(file_buf, "fourth\n") != NULL);
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

TEST(reopen_failure_keeps_old_file_and_says_why)
{
	char dir[64], sub[128], sub2[128], path[192], moved[192];
	make_dir(dir);
	join(sub, sizeof(sub), dir, "sub");
	join(sub2, sizeof(sub2), dir, "sub2");
	CHECK_EQ(mkdir(sub, 0700), 0);
	join(path, sizeof(path), sub, "r.log");
	join(moved, sizeof(moved), sub2, "r.log");
	open_log(path, RP_LOG_INFO);
	RP_INFO("before");
	CHECK_EQ(rename(sub, sub2), 0); /* the log's directory is gone */
	CHECK(rp_log_reopen() == RP_ERR_NOTFOUND);
	RP_INFO("after");
	rp_log_close();
	slurp(moved);
	CHECK_EQ(count_lines(file_buf), 3);
	const char *w = strstr(file_buf, " W log: cannot reopen '");
	CHECK(w != NULL);
	CHECK(strstr(w, "No such file or directory") != NULL);
	CHECK(strstr(file_buf, "after\n") != NULL);
	unlink(moved);
	rmdir(sub2);
	rmdir(dir);
}

TEST(open_failure_names_path_and_keeps_destination)
{
	char dir[64], path[128], bad[192];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	join(bad, sizeof(bad), dir, "missing/r.log");
	open_log(path, RP_LOG_INFO);
	char err[256];
	CHECK(rp_log_open(bad, RP_LOG_INFO, err, sizeof(err)) == RP_ERR_NOTFOUND);
	CHECK(strstr(err, "cannot open log file '") != NULL);
	CHECK(strstr(err, "missing/r.log': No such file or directory") != NULL);
	CHECK(strchr(err, '\n') == NULL);
	RP_INFO("still here");
	rp_log_close();
	slurp(path);
	CHECK(strstr(file_buf, "still here\n") != NULL);
	unlink(path);
	rmdir(dir);
}

TEST(switch_from_one_file_to_another)
{
	char dir[64], a[128], b[128];
	make_dir(dir);
	join(a, sizeof(a), dir, "a.log");
	join(b, sizeof(b), dir, "b.log");
	open_log(a, RP_LOG_INFO);
	RP_INFO("to-a");
	open_log(b, RP_LOG_INFO);
	RP_INFO("to-b");
	rp_log_close();
	slurp(a);
	CHECK(strstr(file_buf, "to-a") != NULL && strstr(file_buf, "to-b") == NULL);
	slurp(b);
	CHECK(strstr(file_buf, "to-b") != NULL && strstr(file_buf, "to-a") == NULL);
	unlink(a);
	unlink(b);
	rmdir(dir);
}

TEST(stderr_is_the_default_destination)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "stderr.txt");
	fflush(stderr);
	int saved = dup(2);
	CHECK(saved >= 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(dup2(fd, 2) == 2);
	close(fd);
	open_log(NULL, RP_LOG_INFO);
	RP_INFO("on stderr");
	CHECK_EQ(rp_log_reopen(), 0); /* nothing to reopen */
	open_log("", RP_LOG_INFO);
	RP_INFO("still stderr");
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	slurp(path);
	CHECK_EQ(count_lines(file_buf), 2);
	CHECK(strncmp(file_buf + HDR_BYTES, "on stderr\n", 10) == 0);
	CHECK(strstr(file_buf, "still stderr\n") != NULL);
	unlink(path);
	rmdir(dir);
}

TEST(file_then_back_to_stderr)
{
	char dir[64], path[128], errpath[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	join(errpath, sizeof(errpath), dir, "stderr.txt");
	fflush(stderr);
	int saved = dup(2);
	CHECK(saved >= 0);
	int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(dup2(fd, 2) == 2);
	close(fd);
	open_log(path, RP_LOG_INFO);
	RP_INFO("in file");
	open_log(NULL, RP_LOG_INFO);
	RP_INFO("in stderr");
	rp_log_close();
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	slurp(path);
	CHECK(strstr(file_buf, "in file") != NULL &&
	      strstr(file_buf, "in stderr") == NULL);
	slurp(errpath);
	CHECK(strstr(file_buf, "in stderr") != NULL &&
	      strstr(file_buf, "in file") == NULL);
	unlink(path);
	unlink(errpath);
	rmdir(dir);
}

TEST(failed_writes_are_counted)
{
	/* /dev/full fails every write with ENOSPC. */
	if (access("/dev/full", W_OK) != 0)
		return;
	uint64_t before = rp_log_dropped_count();
	open_log("/dev/full", RP_LOG_INFO);
	RP_INFO("lost");
	RP_INFO("lost too");
	RP_DEBUG("filtered, not dropped");
	rp_log_close();
	CHECK_EQ(rp_log_dropped_count() - before, 2);
}

enum { THREADS = 8, LINES_PER_THREAD = 300 };

static void *writer_thread(void *arg)
{
	int t = (int)(intptr_t)arg;
	static char payloads[THREADS][3000];
	char *p = payloads[t];
	for (int i = 0; i < LINES_PER_THREAD; i++) {
		size_t len = 100 + (size_t)((i * 37 + t * 101) % 2800);
		memset(p, 'a' + t, len);
		p[len] = '\0';
		RP_INFO("t%d i%d len%zu %s", t, i, len, p);
	}
	return NULL;
}

TEST(concurrent_lines_stay_whole)
{
	char dir[64], path[128];
	make_dir(dir);
	join(path, sizeof(path), dir, "r.log");
	open_log(path, RP_LOG_INFO);
	rp_log_set_prefix("n1");
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		CHECK_EQ(pthread_create(&th[t], NULL, writer_thread, (void *)(intptr_t)t),
			 0);
	for (int t = 0; t < THREADS; t++)
		CHECK_EQ(pthread_join(th[t], NULL), 0);
	rp_log_set_prefix(NULL);
	rp_log_close();

	slurp(path);
	CHECK_EQ(count_lines(file_buf), THREADS * LINES_PER_THREAD);
	int seen[THREADS] = {0};
	for (char *l = file_buf; *l;) {
		char *nl = strchr(l, '\n');
		CHECK(nl != NULL);
		CHECK(header_ok(l, 'I'));
		int t, i;
		size_t len;
		int used = 0;
		CHECK(sscanf(l + HDR_BYTES, "n1 t%d i%d len%zu %n", &t, &i, &len,
			     &used) == 3);
		CHECK(t >= 0 && t < THREADS);
		const char *payload = l + HDR_BYTES + used;
		CHECK_EQ((size_t)(nl - payload), len);
		for (size_t k = 0; k < len; k++)
			CHECK(payload[k] == 'a' + t);
		CHECK_EQ(i, seen[t]); /* each thread's lines in its own order */
		seen[t]++;
		l = nl + 1;
	}
	unlink(path);
	rmdir(dir);
}

TEST_MAIN()
