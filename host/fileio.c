/*
 * fileio.c: atomic output files (temporary name + rename) and whole-file checksums.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dm_internal.h"

dm_status dm_outfile_open(dm_outfile *o, const char *path) {
    memset(o, 0, sizeof *o);
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path ||
        snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof o->tmp)
        return dm_error(DM_STATUS_ARG, "%s: path too long", path);
    o->f = fopen(o->tmp, "wb");
    if (!o->f) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno));
    return DM_STATUS_OK;
}

dm_status dm_outfile_commit(dm_outfile *o) {
    int bad = ferror(o->f) || fflush(o->f) != 0 || fsync(fileno(o->f)) != 0;
    int err = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (bad || rename(o->tmp, o->path) != 0) {
        if (!bad) err = errno;
        remove(o->tmp);
        return dm_error(DM_STATUS_IO, "%s: write failed: %s", o->path, strerror(err));
    }
    return DM_STATUS_OK;
}

void dm_outfile_abort(dm_outfile *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp[0]) remove(o->tmp);
}
