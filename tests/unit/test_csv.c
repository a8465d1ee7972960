/* Unit tests for user/csv.c: CodeCarbon 3.3 emissions.csv rows and file handling, processes.csv. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "log.h"
#include "tree.h"

/* CODECARBON.md section 5, CodeCarbon 3.3.0 order. */
static const char *const expected_names[] = {
	"timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
	"emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
	"ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
	"region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
	"cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
	"ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
	"ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
};

#define HEADER_LINE                                                                         \
	"timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,"   \
	"cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,"  \
	"water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,"  \
	"os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,"    \
	"longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,"         \
	"gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue\n"

/* An all-zero row: strings NULL, optionals unset; non-empty: duration..rate, energy,
 * water, cpu_count, gpu_count, ram_total_size, pue, wue. */
#define ZERO_ROW ",,,,0.0,0.0,0.0,,,,,,,0.0,0.0,,,,,,,,,0,,0,,,,0.0,,,,,,,0.0,0.0"

#define SOME(x) ((struct opt_double){ .set = true, .v = (x) })

static struct emissions_row full_row(void)
{
	struct emissions_row r = {
		.timestamp = "2026-08-08T11:35:50",
		.project_name = "codecarbon",
		.run_id = "5f0c6b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f",
		.experiment_id = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1",
		.duration_s = 12.5,
		.emissions_kg = 1e-05,
		.emissions_rate_kg_s = 8e-07,
		.cpu_power_w = SOME(42.0),
		.gpu_power_w = SOME(0.0),
		.ram_power_w = SOME(10.0),
		.cpu_energy_kwh = SOME(0.1),
		.gpu_energy_kwh = SOME(0.0),
		.ram_energy_kwh = SOME(2.5e-05),
		.energy_consumed_kwh = 0.1 + 0.2,
		.water_consumed_l = 0.0,
		.country_name = "France",
		.country_iso_code = "FRA",
		.region = "ile-de-france",
		.os = "Linux-6.8.0-x86_64-with-glibc2.39",
		.python_version = "3.12.3",
		.codecarbon_version = "3.3.0",
		.cpu_count = 16,
		.cpu_model = "Intel(R) Xeon(R) Gold 6130, 2.10GHz",
		.gpu_count = 0,
		.gpu_model = "",
		.longitude = SOME(2.3522),
		.latitude = SOME(48.8566),
		.ram_total_size_gib = 123456789.0,
		.tracking_mode = "machine",
		.cpu_utilization_percent = SOME(25.0),
		.ram_utilization_percent = SOME(50.5),
		.ram_used_gb = SOME(7.75),
		.on_cloud = "N",
		.pue = 1.0,
		.wue = 0.0,
	};
	return r;
}

#define FULL_ROW                                                                          \
	"2026-08-08T11:35:50,codecarbon,5f0c6b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f,"           \
	"5b0fa12a-3dd7-45bb-9766-cc326314d9f1,12.5,1e-05,8e-07,42.0,0.0,10.0,0.1,0.0,"    \
	"2.5e-05,0.30000000000000004,0.0,France,FRA,ile-de-france,,,"                     \
	"Linux-6.8.0-x86_64-with-glibc2.39,3.12.3,3.3.0,16,"                              \
	"\"Intel(R) Xeon(R) Gold 6130, 2.10GHz\",0,,2.3522,48.8566,123456789.0,machine," \
	"25.0,,50.5,7.75,N,1.0,0.0"

/* A row with only run_id and duration set. */
static struct emissions_row run_row(const char *run_id, double duration_s)
{
	struct emissions_row r = { .run_id = run_id, .duration_s = duration_s };
	return r;
}

/* ZERO_ROW with run_id and duration filled in. */
static char *run_row_text(const char *run_id, const char *duration)
{
	char *s;

	assert_true(asprintf(&s, ",,%s,,%s,0.0,0.0,,,,,,,0.0,0.0,,,,,,,,,0,,0,,,,0.0,,,,,,,0.0,0.0",
			     run_id, duration) > 0);
	return s;
}

/* ---- file helpers ---- */

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test_csv.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/emissions.csv", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	tree_remove(f->dir);
	free(f);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void spit(const char *path, const char *content)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(content, 1, strlen(content), fp), strlen(content));
	assert_int_equal(fclose(fp), 0);
}

static void assert_file_is(const char *path, const char *expected)
{
	char *got = slurp(path);

	assert_non_null(got);
	assert_string_equal(got, expected);
	free(got);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- header and row formatting ---- */

static void test_header_names(void **state)
{
	(void)state;
	assert_int_equal(EMISSIONS_CSV_COLUMNS, 38);
	assert_int_equal(sizeof(expected_names) / sizeof(expected_names[0]), 38);
	for (int i = 0; i < 38; i++)
		assert_string_equal(emissions_csv_header[i], expected_names[i]);
}

static void check_double(double v, const char *want)
{
	char buf[64];
	int n = csv_format_double(buf, sizeof(buf), v);

	assert_string_equal(buf, want);
	assert_int_equal(n, (int)strlen(want));
}

/* Expected strings are what python3's repr() prints. */
static void test_format_double_like_python(void **state)
{
	(void)state;
	check_double(0.1, "0.1");
	check_double(1.0, "1.0");
	check_double(0.0, "0.0");
	check_double(-0.0, "-0.0");
	check_double(12.5, "12.5");
	check_double(-2.5, "-2.5");
	check_double(1e-05, "1e-05");
	check_double(1.5e-07, "1.5e-07");
	check_double(0.0001, "0.0001");
	check_double(0.00012345, "0.00012345");
	check_double(123456789.0, "123456789.0");
	check_double(1e15, "1000000000000000.0");
	check_double(1e16, "1e+16");
	check_double(1e22, "1e+22");
	check_double(123456789012345678.0, "1.2345678901234568e+17");
	check_double(0.1 + 0.2, "0.30000000000000004");
	check_double(1.0 / 3.0, "0.3333333333333333");
	check_double(5e-324, "5e-324");
	check_double(1.7976931348623157e308, "1.7976931348623157e+308");
	check_double(INFINITY, "inf");
	check_double(-INFINITY, "-inf");
	check_double(NAN, "");
}

static void test_format_double_truncates(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(csv_format_double(buf, sizeof(buf), 123456789.0), 11);
	assert_string_equal(buf, "123");
}

static void test_row_full(void **state)
{
	struct emissions_row r = full_row();
	char *s = emissions_row_format(&r);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, FULL_ROW);
	free(s);
}

static void test_row_absent_values_keep_columns(void **state)
{
	struct emissions_row r = { 0 };
	char *s = emissions_row_format(&r);
	int commas = 0;

	(void)state;
	assert_non_null(s);
	for (const char *p = s; *p; p++)
		commas += *p == ',';
	assert_int_equal(commas, 37);
	assert_string_equal(s, ZERO_ROW);
	free(s);
}

static void test_row_quoting(void **state)
{
	struct emissions_row r = { 0 };
	char *s;

	(void)state;
	r.cpu_model = "AMD \"Epyc\", 64-Core";
	r.gpu_model = "line1\nline2";
	r.os = "cr\rhere";
	s = emissions_row_format(&r);
	assert_non_null(s);
	assert_string_equal(s, ",,,,0.0,0.0,0.0,,,,,,,0.0,0.0,,,,,,\"cr\rhere\",,,0,"
			       "\"AMD \"\"Epyc\"\", 64-Core\",0,\"line1\nline2\",,,0.0,,,,,,,0.0,0.0");
	free(s);
}

static void test_row_null(void **state)
{
	(void)state;
	errno = 0;
	assert_null(emissions_row_format(NULL));
	assert_int_equal(errno, EINVAL);
}

/* ---- files ---- */

static void test_new_file(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();

	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_file_is(f->path, HEADER_LINE FULL_ROW "\n");
	assert_int_equal(count_entries(f->dir), 1); /* no temp file left */
}

static void test_empty_file_gets_header(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();

	spit(f->path, "");
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_UPDATE), 0);
	assert_file_is(f->path, HEADER_LINE FULL_ROW "\n");
	assert_int_equal(count_entries(f->dir), 1); /* empty file is not backed up */
}

static void test_append(void **state)
{
	struct fixture *f = *state;
	struct emissions_row a = run_row("a", 1.0), b = run_row("a", 2.5);
	char *ra = run_row_text("a", "1.0"), *rb = run_row_text("a", "2.5"), *want;

	assert_int_equal(emissions_csv_write(f->path, &a, CSV_APPEND), 0);
	assert_int_equal(emissions_csv_write(f->path, &b, CSV_APPEND), 0);
	assert_true(asprintf(&want, HEADER_LINE "%s\n%s\n", ra, rb) > 0);
	assert_file_is(f->path, want);
	free(want);
	free(ra);
	free(rb);
}

static void test_append_adds_missing_newline(void **state)
{
	struct fixture *f = *state;
	struct emissions_row b = run_row("b", 2.0);
	char *ra = run_row_text("a", "1.0"), *rb = run_row_text("b", "2.0"), *old, *want;

	assert_true(asprintf(&old, HEADER_LINE "%s", ra) > 0);
	spit(f->path, old);
	assert_int_equal(emissions_csv_write(f->path, &b, CSV_APPEND), 0);
	assert_true(asprintf(&want, HEADER_LINE "%s\n%s\n", ra, rb) > 0);
	assert_file_is(f->path, want);
	free(old);
	free(want);
	free(ra);
	free(rb);
}

static void test_update_replaces_by_run_id(void **state)
{
	struct fixture *f = *state;
	struct emissions_row a1 = run_row("a", 1.0), b = run_row("b", 2.0), a2 = run_row("a", 3.5);
	char *ra1 = run_row_text("a", "1.0"), *rb = run_row_text("b", "2.0");
	char *ra2 = run_row_text("a", "3.5"), *want;

	assert_int_equal(emissions_csv_write(f->path, &a1, CSV_UPDATE), 0);
	assert_int_equal(emissions_csv_write(f->path, &b, CSV_UPDATE), 0);
	assert_true(asprintf(&want, HEADER_LINE "%s\n%s\n", ra1, rb) > 0);
	assert_file_is(f->path, want); /* 0 matches: appended */
	free(want);

	assert_int_equal(emissions_csv_write(f->path, &a2, CSV_UPDATE), 0);
	assert_true(asprintf(&want, HEADER_LINE "%s\n%s\n", ra2, rb) > 0);
	assert_file_is(f->path, want); /* replaced in place, b untouched */
	free(want);
	free(ra1);
	free(ra2);
	free(rb);
}

static void test_update_two_matches_appends(void **state)
{
	struct fixture *f = *state;
	struct emissions_row a = run_row("a", 1.0), a3 = run_row("a", 3.0);
	char *ra = run_row_text("a", "1.0"), *ra3 = run_row_text("a", "3.0"), *want;

	assert_int_equal(emissions_csv_write(f->path, &a, CSV_APPEND), 0);
	assert_int_equal(emissions_csv_write(f->path, &a, CSV_APPEND), 0);
	assert_int_equal(emissions_csv_write(f->path, &a3, CSV_UPDATE), 0);
	assert_true(asprintf(&want, HEADER_LINE "%s\n%s\n%s\n", ra, ra, ra3) > 0);
	assert_file_is(f->path, want);
	free(want);
	free(ra);
	free(ra3);
}

/*
 * Row 1's quoted cpu_model holds a newline followed by ",,b,": a line-based reader would
 * see a second "b" row and append; a CSV reader finds exactly one b and replaces it. The
 * other rows, CRLF terminators included, stay byte for byte.
 */
static void test_update_parses_quoted_fields(void **state)
{
	struct fixture *f = *state;
	struct emissions_row b2 = run_row("b", 7.0);
	const char *row1 = ",,a,,1.0,0.0,0.0,,,,,,,0.0,0.0,,,,,,,,,0,"
			   "\"x, \"\"y\"\"\n,,b,\",0,,,,0.0,,,,,,,0.0,0.0";
	char *rb = run_row_text("b", "2.0"), *rb2 = run_row_text("b", "7.0"), *old, *want;

	assert_true(asprintf(&old, HEADER_LINE "%s\r\n%s\r\n", row1, rb) > 0);
	spit(f->path, old);
	assert_int_equal(emissions_csv_write(f->path, &b2, CSV_UPDATE), 0);
	assert_true(asprintf(&want, HEADER_LINE "%s\r\n%s\r\n", row1, rb2) > 0);
	assert_file_is(f->path, want);
	free(old);
	free(want);
	free(rb);
	free(rb2);
}

static void test_null_run_id_never_matches(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = { 0 };

	assert_int_equal(emissions_csv_write(f->path, &r, CSV_UPDATE), 0);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_UPDATE), 0);
	assert_file_is(f->path, HEADER_LINE ZERO_ROW "\n" ZERO_ROW "\n");
}

static void test_header_mismatch_backups(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();
	const char *v2 = "timestamp,project_name,run_id,duration\nx,y,z,1.0\n";
	const char *other = "a,b\n1,2\n";
	char bak[160], bak0[160], bak1[160];

	snprintf(bak, sizeof(bak), "%s/emissions.csv.bak", f->dir);
	snprintf(bak0, sizeof(bak0), "%s/emissions.csv_0.bak", f->dir);
	snprintf(bak1, sizeof(bak1), "%s/emissions.csv_1.bak", f->dir);

	spit(f->path, v2);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_file_is(bak, v2);
	assert_file_is(f->path, HEADER_LINE FULL_ROW "\n");
	assert_false(exists(bak0));

	spit(f->path, other);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_UPDATE), 0);
	assert_file_is(bak, v2);
	assert_file_is(bak0, other);
	assert_file_is(f->path, HEADER_LINE FULL_ROW "\n");

	/* 37 of the 38 columns is a different header too. */
	spit(f->path, "timestamp\n");
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_file_is(bak1, "timestamp\n");
	assert_int_equal(count_entries(f->dir), 4);
}

/* Same names in another order: no backup, the row follows the file's column order. */
static void test_header_other_order(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = run_row("r", 2.0);
	/* ZERO_ROW reversed, with duration (col 5) and run_id (col 3) filled in. */
	const char *reversed_row = "0.0,0.0,,,,,,,0.0,,,,0,,0,,,,,,,,,0.0,0.0,,,,,,,0.0,0.0,2.0,,r,,";
	char header[1024] = "", *old, *want;

	for (int i = 37; i >= 0; i--) {
		strcat(header, expected_names[i]);
		strcat(header, i ? "," : "\n");
	}
	assert_true(asprintf(&old, "%s", header) > 0);
	spit(f->path, old);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_true(asprintf(&want, "%s%s\n", header, reversed_row) > 0);
	assert_file_is(f->path, want);
	assert_int_equal(count_entries(f->dir), 1);

	/* And update finds run_id in its moved column. */
	r.duration_s = 4.0;
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_UPDATE), 0);
	free(want);
	assert_true(asprintf(&want, "%s%s\n", header,
			     "0.0,0.0,,,,,,,0.0,,,,0,,0,,,,,,,,,0.0,0.0,,,,,,,0.0,0.0,4.0,,r,,") > 0);
	assert_file_is(f->path, want);
	free(old);
	free(want);
}

static void test_mode_kept(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = run_row("a", 1.0);
	struct stat st;

	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* The file that replaces a backed-up one keeps its mode too. */
	spit(f->path, "old,header\n");
	assert_int_equal(chmod(f->path, 0604), 0);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
}

static void test_follows_symlink(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();
	char real[160];
	struct stat st;

	snprintf(real, sizeof(real), "%s/real.csv", f->dir);
	spit(real, "");
	assert_int_equal(symlink("real.csv", f->path), 0);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_file_is(real, HEADER_LINE FULL_ROW "\n");
}

static void test_parent_is_file(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();
	char notdir[160], path[200];

	snprintf(notdir, sizeof(notdir), "%s/plain", f->dir);
	spit(notdir, "x");
	snprintf(path, sizeof(path), "%s/emissions.csv", notdir);
	assert_int_equal(emissions_csv_write(path, &r, CSV_APPEND), -ENOTDIR);
	assert_file_is(notdir, "x");
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_missing_dir(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();
	char missing[160], path[200];

	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	snprintf(path, sizeof(path), "%s/emissions.csv", missing);
	assert_int_equal(emissions_csv_write(path, &r, CSV_APPEND), -ENOENT);
	assert_false(exists(missing));
	assert_int_equal(count_entries(f->dir), 0);
}

static void test_path_is_dir(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();

	assert_int_equal(emissions_csv_write(f->dir, &r, CSV_APPEND), -EISDIR);
	assert_int_equal(count_entries(f->dir), 0);
}

/* Directory permissions do not stop root, so this one only runs unprivileged. */
static void test_unwritable_dir(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();

	if (geteuid() == 0)
		skip();
	assert_int_equal(chmod(f->dir, 0555), 0);
	assert_int_equal(emissions_csv_write(f->path, &r, CSV_APPEND), -EACCES);
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(count_entries(f->dir), 0);
}

/* RLIMIT_FSIZE makes the temporary file's write fail (EFBIG), even for root. */
static void test_failed_write_keeps_original(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();
	const char *original = "a,b\n1,2\n";
	struct rlimit old, lim;
	void (*old_handler)(int);
	int ret;

	spit(f->path, original);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 16;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ret = emissions_csv_write(f->path, &r, CSV_APPEND);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(ret, -EFBIG);
	assert_file_is(f->path, original);
	assert_int_equal(count_entries(f->dir), 1); /* no .bak, no temp file */
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	struct emissions_row r = full_row();

	assert_int_equal(emissions_csv_write(NULL, &r, CSV_APPEND), -EINVAL);
	assert_int_equal(emissions_csv_write("", &r, CSV_APPEND), -EINVAL);
	assert_int_equal(emissions_csv_write(f->path, NULL, CSV_APPEND), -EINVAL);
	assert_int_equal(emissions_csv_write(f->path, &r, (enum csv_write_mode)7), -EINVAL);
	assert_false(exists(f->path));
}

/* ---- processes.csv and timestamps ---- */

static void test_process_row(void **state)
{
	struct process_row p = {
		.timestamp = "2026-08-08T11:35:50",
		.interval = 7,
		.pid = 4242,
		.start_time_ticks = 123456789012ULL,
		.comm = "a,b\"c",
		.cgroup = "/user.slice/x.scope",
		.container_id = "",
		.experiment_id = "",
		.on_cpu_s = 1.5,
		.cpu_energy_uj = 90000000,
		.ram_energy_uj = 3600000,
		.cpu_energy_kwh = 2.5e-05,
		.ram_energy_kwh = 1e-06,
		.emissions_kg = 1.2e-05,
		.intensity_g_per_kwh = 56.039,
		.intensity_source = "country:FRA",
	};
	const char *want = "2026-08-08T11:35:50,7,4242,123456789012,\"a,b\"\"c\",/user.slice/x.scope,,,"
			   "1.5,90000000,3600000,2.5e-05,1e-06,1.2e-05,56.039,country:FRA";
	char buf[256], small[10];

	(void)state;
	assert_string_equal(processes_csv_header,
			    "timestamp,interval,pid,start_time_ticks,comm,cgroup,container_id,experiment_id,"
			    "on_cpu_seconds,cpu_energy_uj,ram_energy_uj,cpu_energy_kwh,ram_energy_kwh,emissions_kg,"
			    "carbon_intensity_g_per_kwh,carbon_intensity_source");
	assert_int_equal(process_row_format(buf, sizeof(buf), &p), (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(process_row_format(small, sizeof(small), &p), (int)strlen(want));
	assert_string_equal(small, "2026-08-0");
	assert_int_equal(process_row_format(NULL, 0, &p), (int)strlen(want));
	assert_int_equal(process_row_format(buf, sizeof(buf), NULL), -EINVAL);
}

static void test_local_timestamp(void **state)
{
	char buf[32], small[19];

	(void)state;
	setenv("TZ", "UTC0", 1);
	tzset();
	assert_int_equal(csv_local_timestamp(buf, sizeof(buf), 0), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00");
	assert_int_equal(csv_local_timestamp(buf, sizeof(buf), 1700000000), 0);
	assert_string_equal(buf, "2023-11-14T22:13:20");
	/* POSIX TZ "CET-1" is UTC+1 with no DST rule. */
	setenv("TZ", "CET-1", 1);
	tzset();
	assert_int_equal(csv_local_timestamp(buf, sizeof(buf), 1700000000), 0);
	assert_string_equal(buf, "2023-11-14T23:13:20");
	assert_int_equal(csv_local_timestamp(small, sizeof(small), 0), -ERANGE);
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_format_double_like_python),
		cmocka_unit_test(test_format_double_truncates),
		cmocka_unit_test(test_row_full),
		cmocka_unit_test(test_row_absent_values_keep_columns),
		cmocka_unit_test(test_row_quoting),
		cmocka_unit_test(test_row_null),
		cmocka_unit_test_setup_teardown(test_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_gets_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_adds_missing_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_replaces_by_run_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_two_matches_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_parses_quoted_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_run_id_never_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_mismatch_backups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_other_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follows_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_is_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_is_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_keeps_original, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test(test_process_row),
		cmocka_unit_test(test_local_timestamp),
	};

	log_set_level(LOG_ERROR); /* the .bak warnings are expected here */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
