/* emissions.csv and processes.csv: row formatting, RFC 4180 parsing, safe file rewrite. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "log.h"
#include "util.h"

/* CodeCarbon 3.3.0 EmissionsData field order. */
const char *const emissions_csv_header[EMISSIONS_CSV_COLUMNS] = {
	"timestamp",
	"project_name",
	"run_id",
	"experiment_id",
	"duration",
	"emissions",
	"emissions_rate",
	"cpu_power",
	"gpu_power",
	"ram_power",
	"cpu_energy",
	"gpu_energy",
	"ram_energy",
	"energy_consumed",
	"water_consumed",
	"country_name",
	"country_iso_code",
	"region",
	"cloud_provider",
	"cloud_region",
	"os",
	"python_version",
	"codecarbon_version",
	"cpu_count",
	"cpu_model",
	"gpu_count",
	"gpu_model",
	"longitude",
	"latitude",
	"ram_total_size",
	"tracking_mode",
	"cpu_utilization_percent",
	"gpu_utilization_percent",
	"ram_utilization_percent",
	"ram_used_gb",
	"on_cloud",
	"pue",
	"wue",
};

const char *const processes_csv_header =
	"timestamp,interval,pid,start_time_ticks,comm,cgroup,container_id,experiment_id,on_cpu_seconds,"
	"cpu_energy_uj,ram_energy_uj,cpu_energy_kwh,ram_energy_kwh,emissions_kg,carbon_intensity_g_per_kwh,"
	"carbon_intensity_source";

#define NUM_LEN 32 /* "-1.7976931348623157e+308" is 24 */
#define BACKUP_TRIES 10000
#define TEMP_TRIES 1000

/*
 * Output sink: either a growable malloc'ed buffer or a fixed buffer with snprintf-like
 * truncation (len keeps counting past size).
 */
struct sink {
	char *buf;
	size_t size;
	size_t len;
	bool grow;
	bool oom;
};

static void sink_putn(struct sink *s, const char *p, size_t n)
{
	if (s->oom)
		return;
	if (s->grow && s->len + n + 1 > s->size) {
		size_t want = s->size ? s->size : 256;
		char *nb;

		while (want < s->len + n + 1)
			want *= 2;
		nb = realloc(s->buf, want);
		if (!nb) {
			s->oom = true;
			return;
		}
		s->buf = nb;
		s->size = want;
	}
	if (s->len < s->size) {
		size_t room = s->size - 1 - s->len;

		memcpy(s->buf + s->len, p, n < room ? n : room);
	}
	s->len += n;
}

static void sink_puts(struct sink *s, const char *p)
{
	sink_putn(s, p, strlen(p));
}

static void sink_putc(struct sink *s, char c)
{
	sink_putn(s, &c, 1);
}

/* NUL-terminates the sink's buffer (at the truncation point for a fixed one). */
static void sink_finish(struct sink *s)
{
	if (s->oom || !s->size)
		return;
	s->buf[s->len < s->size ? s->len : s->size - 1] = '\0';
}

/* RFC 4180 / Python csv QUOTE_MINIMAL: quote when the field holds , " CR or LF. */
static void sink_field(struct sink *s, const char *f)
{
	if (!strpbrk(f, ",\"\r\n")) {
		sink_puts(s, f);
		return;
	}
	sink_putc(s, '"');
	for (const char *p = f; *p; p++) {
		if (*p == '"')
			sink_putc(s, '"');
		sink_putc(s, *p);
	}
	sink_putc(s, '"');
}

int csv_format_double(char *buf, size_t size, double v)
{
	struct sink s = { .buf = buf, .size = size };
	char tmp[NUM_LEN], digits[20];
	int ndig = 0, exp10, decpt, prec;
	const char *p;

	if (isnan(v)) {
		sink_finish(&s);
		return 0;
	}
	if (isinf(v)) {
		sink_puts(&s, v < 0 ? "-inf" : "inf");
		sink_finish(&s);
		return (int)s.len;
	}
	/*
	 * glibc's %e is correctly rounded, so the first precision whose output reads back as
	 * v gives the same shortest digits as Python's repr (David Gay's dtoa mode 0).
	 */
	{
		/* Round-tripping is monotonic in the precision: binary search 1..17. */
		int lo = 1, hi = 17;

		while (lo < hi) {
			int mid = (lo + hi) / 2;

			snprintf(tmp, sizeof(tmp), "%.*e", mid - 1, v);
			if (strtod(tmp, NULL) == v)
				hi = mid;
			else
				lo = mid + 1;
		}
		prec = lo;
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
	}
	/* tmp is "[-]d[.ddd]e[+-]xx" */
	p = tmp;
	if (*p == '-') {
		sink_putc(&s, '-');
		p++;
	}
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[ndig++] = *p;
	exp10 = atoi(p + 1);
	while (ndig > 1 && digits[ndig - 1] == '0')
		ndig--;
	decpt = exp10 + 1; /* v = 0.d1d2... * 10^decpt */

	if (decpt <= -4 || decpt > 16) {
		char e[16];

		sink_putc(&s, digits[0]);
		if (ndig > 1) {
			sink_putc(&s, '.');
			sink_putn(&s, digits + 1, ndig - 1);
		}
		snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		sink_puts(&s, e);
	} else if (decpt <= 0) {
		sink_puts(&s, "0.");
		for (int i = 0; i < -decpt; i++)
			sink_putc(&s, '0');
		sink_putn(&s, digits, ndig);
	} else if (decpt >= ndig) {
		sink_putn(&s, digits, ndig);
		for (int i = ndig; i < decpt; i++)
			sink_putc(&s, '0');
		sink_puts(&s, ".0");
	} else {
		sink_putn(&s, digits, decpt);
		sink_putc(&s, '.');
		sink_putn(&s, digits + decpt, ndig - decpt);
	}
	sink_finish(&s);
	return (int)s.len;
}

int csv_local_timestamp(char *buf, size_t len, time_t t)
{
	struct tm tm;

	if (!buf || len < sizeof("YYYY-MM-DDTHH:MM:SS"))
		return -ERANGE;
	if (!localtime_r(&t, &tm))
		return -EINVAL;
	/* A year past 9999 would not fit the fixed width. */
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -ERANGE;
	return 0;
}

/* The 38 cells of one row, unquoted; numbers formatted into num[]. */
struct row_cells {
	const char *cell[EMISSIONS_CSV_COLUMNS];
	char num[EMISSIONS_CSV_COLUMNS][NUM_LEN];
	unsigned n;
};

static void put_str(struct row_cells *c, const char *s)
{
	c->cell[c->n++] = s ? s : "";
}

static void put_dbl(struct row_cells *c, double v)
{
	csv_format_double(c->num[c->n], NUM_LEN, v);
	c->cell[c->n] = c->num[c->n];
	c->n++;
}

static void put_opt(struct row_cells *c, struct opt_double o)
{
	if (o.set)
		put_dbl(c, o.v);
	else
		put_str(c, NULL);
}

static void put_int(struct row_cells *c, int v)
{
	snprintf(c->num[c->n], NUM_LEN, "%d", v);
	c->cell[c->n] = c->num[c->n];
	c->n++;
}

/* Must follow emissions_csv_header's order. */
static void row_cells_fill(struct row_cells *c, const struct emissions_row *r)
{
	c->n = 0;
	put_str(c, r->timestamp);
	put_str(c, r->project_name);
	put_str(c, r->run_id);
	put_str(c, r->experiment_id);
	put_dbl(c, r->duration_s);
	put_dbl(c, r->emissions_kg);
	put_dbl(c, r->emissions_rate_kg_s);
	put_opt(c, r->cpu_power_w);
	put_opt(c, r->gpu_power_w);
	put_opt(c, r->ram_power_w);
	put_opt(c, r->cpu_energy_kwh);
	put_opt(c, r->gpu_energy_kwh);
	put_opt(c, r->ram_energy_kwh);
	put_dbl(c, r->energy_consumed_kwh);
	put_dbl(c, r->water_consumed_l);
	put_str(c, r->country_name);
	put_str(c, r->country_iso_code);
	put_str(c, r->region);
	put_str(c, r->cloud_provider);
	put_str(c, r->cloud_region);
	put_str(c, r->os);
	put_str(c, r->python_version);
	put_str(c, r->codecarbon_version);
	put_int(c, r->cpu_count);
	put_str(c, r->cpu_model);
	put_int(c, r->gpu_count);
	put_str(c, r->gpu_model);
	put_opt(c, r->longitude);
	put_opt(c, r->latitude);
	put_dbl(c, r->ram_total_size_gib);
	put_str(c, r->tracking_mode);
	put_opt(c, r->cpu_utilization_percent);
	put_opt(c, r->gpu_utilization_percent);
	put_opt(c, r->ram_utilization_percent);
	put_opt(c, r->ram_used_gb);
	put_str(c, r->on_cloud);
	put_dbl(c, r->pue);
	put_dbl(c, r->wue);
}

/* Writes the cells in the order order[0..n) (indices into the header), or as-is if NULL. */
static void sink_cells(struct sink *s, const struct row_cells *c, const unsigned *order)
{
	for (unsigned i = 0; i < EMISSIONS_CSV_COLUMNS; i++) {
		if (i)
			sink_putc(s, ',');
		sink_field(s, c->cell[order ? order[i] : i]);
	}
}

static void sink_header(struct sink *s)
{
	for (unsigned i = 0; i < EMISSIONS_CSV_COLUMNS; i++) {
		if (i)
			sink_putc(s, ',');
		sink_puts(s, emissions_csv_header[i]);
	}
	sink_putc(s, '\n');
}

char *emissions_row_format(const struct emissions_row *row)
{
	struct sink s = { .grow = true };
	struct row_cells *c;

	if (!row) {
		errno = EINVAL;
		return NULL;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	row_cells_fill(c, row);
	sink_cells(&s, c, NULL);
	free(c);
	if (s.oom) {
		free(s.buf);
		errno = ENOMEM;
		return NULL;
	}
	sink_finish(&s);
	return s.buf;
}

int process_row_format(char *buf, size_t size, const struct process_row *row)
{
	struct sink s = { .buf = buf, .size = size };
	char num[NUM_LEN];
	double vals[4];

	if (!row)
		return -EINVAL;
	sink_field(&s, row->timestamp ? row->timestamp : "");
	snprintf(num, sizeof(num), ",%" PRIu64 ",", row->interval);
	sink_puts(&s, num);
	snprintf(num, sizeof(num), "%" PRIu32 ",%" PRIu64 ",", row->pid, row->start_time_ticks);
	sink_puts(&s, num);
	sink_field(&s, row->comm ? row->comm : "");
	sink_putc(&s, ',');
	sink_field(&s, row->cgroup ? row->cgroup : "");
	sink_putc(&s, ',');
	sink_field(&s, row->container_id ? row->container_id : "");
	sink_putc(&s, ',');
	sink_field(&s, row->experiment_id ? row->experiment_id : "");
	sink_putc(&s, ',');
	csv_format_double(num, sizeof(num), row->on_cpu_s);
	sink_puts(&s, num);
	snprintf(num, sizeof(num), ",%" PRIu64 ",%" PRIu64, row->cpu_energy_uj, row->ram_energy_uj);
	sink_puts(&s, num);
	vals[0] = row->cpu_energy_kwh;
	vals[1] = row->ram_energy_kwh;
	vals[2] = row->emissions_kg;
	vals[3] = row->intensity_g_per_kwh;
	for (size_t i = 0; i < 4; i++) {
		sink_putc(&s, ',');
		csv_format_double(num, sizeof(num), vals[i]);
		sink_puts(&s, num);
	}
	sink_putc(&s, ',');
	sink_field(&s, row->intensity_source ? row->intensity_source : "");
	sink_finish(&s);
	return s.len > INT_MAX ? -EOVERFLOW : (int)s.len;
}

/*
 * One parsed record. Fields are unescaped, each NUL-terminated, in text at off[i].
 * [start, content_end) is the record's bytes, [content_end, end) its line terminator.
 */
struct csv_rec {
	size_t start, content_end, end;
	char *text;
	size_t text_len, text_cap;
	size_t *off;
	size_t nfields, off_cap;
	bool oom;
};

static void rec_text_put(struct csv_rec *r, char c)
{
	if (r->oom)
		return;
	if (r->text_len + 1 > r->text_cap) {
		size_t want = r->text_cap ? r->text_cap * 2 : 256;
		char *nt = realloc(r->text, want);

		if (!nt) {
			r->oom = true;
			return;
		}
		r->text = nt;
		r->text_cap = want;
	}
	r->text[r->text_len++] = c;
}

static void rec_field_begin(struct csv_rec *r)
{
	if (r->oom)
		return;
	if (r->nfields + 1 > r->off_cap) {
		size_t want = r->off_cap ? r->off_cap * 2 : 64;
		size_t *no = realloc(r->off, want * sizeof(*no));

		if (!no) {
			r->oom = true;
			return;
		}
		r->off = no;
		r->off_cap = want;
	}
	r->off[r->nfields++] = r->text_len;
}

static const char *rec_field(const struct csv_rec *r, size_t i)
{
	return r->text + r->off[i];
}

static void rec_free(struct csv_rec *r)
{
	free(r->text);
	free(r->off);
}

/*
 * Parses the record starting at pos. Leniently like Python's csv module: text after a
 * closing quote is kept, a quote inside an unquoted field is literal, an unterminated
 * quoted field runs to the end of data. CR, LF and CRLF end a record.
 * Returns 0 or -ENOMEM.
 */
static int csv_parse_record(const char *d, size_t len, size_t pos, struct csv_rec *r)
{
	bool quoted = false, field_start = true;
	size_t i = pos;

	r->start = pos;
	r->nfields = 0;
	r->text_len = 0;
	rec_field_begin(r);
	while (i < len) {
		char c = d[i];

		if (field_start && c == '"') {
			quoted = true;
			field_start = false;
			i++;
			continue;
		}
		field_start = false;
		if (quoted) {
			if (c == '"') {
				if (i + 1 < len && d[i + 1] == '"') {
					rec_text_put(r, '"');
					i += 2;
					continue;
				}
				quoted = false;
				i++;
				continue;
			}
			rec_text_put(r, c);
			i++;
			continue;
		}
		if (c == ',') {
			rec_text_put(r, '\0');
			rec_field_begin(r);
			field_start = true;
			i++;
			continue;
		}
		if (c == '\n' || c == '\r') {
			r->content_end = i;
			r->end = i + 1;
			if (c == '\r' && i + 1 < len && d[i + 1] == '\n')
				r->end++;
			rec_text_put(r, '\0');
			return r->oom ? -ENOMEM : 0;
		}
		rec_text_put(r, c);
		i++;
	}
	r->content_end = r->end = len;
	rec_text_put(r, '\0');
	return r->oom ? -ENOMEM : 0;
}

/* Parses records from *pos on, skipping blank lines (as pandas does); 1 found, 0 at end. */
static int csv_next_nonblank(const char *d, size_t len, size_t *pos, struct csv_rec *r)
{
	while (*pos < len) {
		int err = csv_parse_record(d, len, *pos, r);

		if (err)
			return err;
		*pos = r->end;
		if (r->content_end > r->start)
			return 1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Compares the file's header with ours as sorted name lists (as CodeCarbon does). On a
 * match fills order[i] with our column index for the file's column i.
 */
static bool header_matches(const struct csv_rec *h, unsigned order[EMISSIONS_CSV_COLUMNS])
{
	const char *theirs[EMISSIONS_CSV_COLUMNS], *ours[EMISSIONS_CSV_COLUMNS];

	if (h->nfields != EMISSIONS_CSV_COLUMNS)
		return false;
	for (unsigned i = 0; i < EMISSIONS_CSV_COLUMNS; i++) {
		theirs[i] = rec_field(h, i);
		ours[i] = emissions_csv_header[i];
	}
	qsort(theirs, EMISSIONS_CSV_COLUMNS, sizeof(theirs[0]), cmp_str);
	qsort(ours, EMISSIONS_CSV_COLUMNS, sizeof(ours[0]), cmp_str);
	for (unsigned i = 0; i < EMISSIONS_CSV_COLUMNS; i++)
		if (strcmp(theirs[i], ours[i]))
			return false;
	/* Same set of distinct names, so every lookup succeeds exactly once. */
	for (unsigned i = 0; i < EMISSIONS_CSV_COLUMNS; i++)
		for (unsigned j = 0; j < EMISSIONS_CSV_COLUMNS; j++)
			if (!strcmp(rec_field(h, i), emissions_csv_header[j]))
				order[i] = j;
	return true;
}

/* Reads a regular file whole. Missing file: *exists = false, returns 0. */
static int read_whole(const char *path, char **data, size_t *len, struct stat *st, bool *exists)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd, err = 0;

	*exists = false;
	/* O_NONBLOCK so that a FIFO at path cannot hang us before the S_ISREG check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		err = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t got;

		if (n + 4096 > cap) {
			size_t want = cap ? cap * 2 : (size_t)st->st_size + 4096;
			char *nb = realloc(buf, want);

			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = want;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*exists = true;
out:
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*data = buf;
	*len = n;
	return 0;
}

/*
 * Gives the file at path a second name, path.bak or path_N.bak (CodeCarbon's names).
 * link(2) keeps path in place until the new file replaces it; where hard links are not
 * supported the file is renamed instead. *linked tells which happened.
 */
static int make_backup(const char *path, char **bak_out, bool *linked)
{
	struct stat st;
	char *bak = NULL;

	for (int idx = -1; idx < BACKUP_TRIES; idx++) {
		free(bak);
		if ((idx < 0 ? asprintf(&bak, "%s.bak", path) :
			       asprintf(&bak, "%s_%d.bak", path, idx)) < 0)
			return -ENOMEM;
		if (!lstat(bak, &st))
			continue;
		if (errno != ENOENT)
			goto fail;
		if (!link(path, bak)) {
			*linked = true;
			*bak_out = bak;
			return 0;
		}
		if (errno == EEXIST)
			continue;
		if (!rename(path, bak)) {
			*linked = false;
			*bak_out = bak;
			return 0;
		}
		goto fail;
	}
	errno = EEXIST;
fail:
	free(bak);
	return -errno;
}

/* fsync(2) on the directory makes the rename durable; best effort. */
static void sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

/*
 * Replaces path with data through a temporary file in the same directory. old_st (may be
 * NULL) gives the mode and owner to keep. With backup, the current file is first given
 * its .bak name.
 */
static int replace_file(const char *path, const char *data, size_t len, const struct stat *old_st,
			bool backup)
{
	char *tmp = NULL, *bak = NULL;
	bool linked = false;
	int fd = -1, err;

	for (unsigned n = 0; n < TEMP_TRIES; n++) {
		free(tmp);
		if (asprintf(&tmp, "%s.tmp.%ld.%u", path, (long)getpid(), n) < 0) {
			tmp = NULL;
			return -ENOMEM;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	if (old_st) {
		if (fchmod(fd, old_st->st_mode & 07777)) {
			err = -errno;
			goto fail;
		}
		/* Only root can give the file back to its owner; otherwise it is ours anyway. */
		if (old_st->st_uid != geteuid() || old_st->st_gid != getegid())
			(void)!fchown(fd, old_st->st_uid, old_st->st_gid);
	}
	err = write_all(fd, data, len);
	if (err)
		goto fail;
	if (fsync(fd)) {
		err = -errno;
		goto fail;
	}
	err = close(fd) ? -errno : 0;
	fd = -1;
	if (err)
		goto fail;
	if (backup) {
		err = make_backup(path, &bak, &linked);
		if (err)
			goto fail;
		pr_warn("%s: columns differ from CodeCarbon 3.3's; old file moved to %s", path, bak);
	}
	if (rename(tmp, path)) {
		err = -errno;
		/* Undo the backup so the old file stays where it was. */
		if (bak && linked)
			unlink(bak);
		else if (bak)
			(void)rename(bak, path);
		goto fail;
	}
	sync_dir_of(path);
	free(tmp);
	free(bak);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(bak);
	return err;
}

/*
 * Builds the new file content from the old one. Sets *backup when the old header differs.
 */
static int build_content(const char *old, size_t old_len, const struct row_cells *cells,
			 const char *run_id, enum csv_write_mode mode, struct sink *out, bool *backup)
{
	struct csv_rec rec = { 0 };
	unsigned order[EMISSIONS_CSV_COLUMNS];
	size_t pos = 0, run_col = 0, match_start = 0, match_end = 0;
	unsigned matches = 0;
	int ret;

	*backup = false;
	/* A UTF-8 BOM (Excel) belongs to no column name. */
	if (old_len >= 3 && !memcmp(old, "\xEF\xBB\xBF", 3))
		pos = 3;
	ret = csv_next_nonblank(old, old_len, &pos, &rec);
	if (ret < 0)
		goto out;
	if (ret == 0 || !header_matches(&rec, order)) {
		*backup = ret > 0;
		sink_header(out);
		sink_cells(out, cells, NULL);
		sink_putc(out, '\n');
		ret = 0;
		goto out;
	}
	for (unsigned i = 0; i < EMISSIONS_CSV_COLUMNS; i++)
		if (!strcmp(emissions_csv_header[order[i]], "run_id"))
			run_col = i;
	/* pandas reads an empty run_id as NaN, which equals nothing. */
	if (mode == CSV_UPDATE && run_id && *run_id) {
		while ((ret = csv_next_nonblank(old, old_len, &pos, &rec)) > 0) {
			if (rec.nfields <= run_col || strcmp(rec_field(&rec, run_col), run_id))
				continue;
			matches++;
			match_start = rec.start;
			match_end = rec.content_end;
		}
		if (ret < 0)
			goto out;
	}
	if (matches == 1) {
		sink_putn(out, old, match_start);
		sink_cells(out, cells, order);
		sink_putn(out, old + match_end, old_len - match_end);
	} else {
		sink_putn(out, old, old_len);
		if (old[old_len - 1] != '\n' && old[old_len - 1] != '\r')
			sink_putc(out, '\n');
		sink_cells(out, cells, order);
		sink_putc(out, '\n');
	}
	ret = 0;
out:
	rec_free(&rec);
	return ret;
}

int emissions_csv_write(const char *path, const struct emissions_row *row, enum csv_write_mode mode)
{
	struct sink out = { .grow = true };
	struct row_cells *cells = NULL;
	char *target = NULL, *old = NULL;
	size_t old_len = 0;
	bool exists, backup = false;
	struct stat st;
	int err;

	if (!path || !*path || !row || (mode != CSV_APPEND && mode != CSV_UPDATE))
		return -EINVAL;
	/* Follow a symlink to the real file, as CodeCarbon's Path.resolve() does. */
	target = realpath(path, NULL);
	if (!target) {
		if (errno != ENOENT)
			return -errno;
		target = strdup(path);
		if (!target)
			return -ENOMEM;
	}
	err = read_whole(target, &old, &old_len, &st, &exists);
	if (err)
		goto out;
	cells = malloc(sizeof(*cells));
	if (!cells) {
		err = -ENOMEM;
		goto out;
	}
	row_cells_fill(cells, row);
	err = build_content(old, exists ? old_len : 0, cells, row->run_id, mode, &out, &backup);
	if (err)
		goto out;
	if (out.oom) {
		err = -ENOMEM;
		goto out;
	}
	err = replace_file(target, out.buf, out.len, exists ? &st : NULL, backup);
out:
	free(out.buf);
	free(cells);
	free(old);
	free(target);
	return err;
}
