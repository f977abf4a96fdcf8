/*
 * cuda_load.c: the CUDA backend of a CUDA build, loaded at run time from libdeepmotif_cuda.so
 * (kernels/cuda/plugin.h), so that libdeepmotif.so and the deepmotif program start on a machine
 * without CUDA and fail only when a CUDA device is asked for. Linked into the shared library and
 * the program; the static library links the backend itself instead (CMakeLists.txt).
 *
 * Where the plugin is looked for, first found wins:
 *   1. $DM_CUDA_LIBRARY, when set (and nothing else);
 *   2. the folder of the module holding this code (libdeepmotif.so, or the program), then ../lib
 *      beside it (bin/ and lib/ of an installation);
 *   3. the folder of the running program and ../lib beside it;
 *   4. the dynamic loader's own search (LD_LIBRARY_PATH, the runpath, the system folders).
 * A failure is remembered (it is not retried) and reported as "cuda:N: libdeepmotif_cuda.so: REASON"
 * with the most telling dlerror(): one about the plugin's own dependencies (libcudart, ...) when
 * the file was found, else the last "not found".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cuda/plugin.h"
#include "dm_base.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const dm_cuda_plugin *g_plugin;
static char g_why[1024];     /* why loading failed */

static dm_status host_error(dm_status s, const char *msg) { return dm_error(s, "%s", msg); }

static const dm_cuda_host g_host = {
    .abi = DM_CUDA_PLUGIN_ABI, .backend_size = sizeof(struct dm_backend),
    .table_size = sizeof(struct dm_backend_i),
    .error = host_error, .backend_fail = dm_backend_fail, .backend_free = dm_backend_free,
};

/* dlopen's one candidate; *found records whether the file exists (its dlerror then matters most). */
static void *try_open(const char *path, bool *found) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char *e = dlerror();
    bool exists = strchr(path, '/') ? access(path, F_OK) == 0 : strstr(e ? e : "", "No such file") == NULL;
    if (exists || !*found) {
        snprintf(g_why, sizeof g_why, "%s", e ? e : "cannot be loaded");
        if (exists) *found = true;
    }
    return NULL;
}

/* Candidates in dir and dir/../lib. */
static void *try_dir(const char *file, bool *found) {
    char copy[PATH_MAX], path[PATH_MAX + 64];
    snprintf(copy, sizeof copy, "%s", file);
    const char *dir = dirname(copy);
    snprintf(path, sizeof path, "%s/" DM_CUDA_PLUGIN_FILE, dir);
    void *h = try_open(path, found);
    if (!h) {
        snprintf(path, sizeof path, "%s/../lib/" DM_CUDA_PLUGIN_FILE, dir);
        if (access(path, F_OK) == 0) h = try_open(path, found);
    }
    return h;
}

static void load(void) {
    bool found = false;
    void *h = NULL;
    const char *env = getenv("DM_CUDA_LIBRARY");
    if (env && *env) {
        h = try_open(env, &found);
    } else {
        Dl_info info;
        if (dladdr((void *)&load, &info) && info.dli_fname && strchr(info.dli_fname, '/'))
            h = try_dir(info.dli_fname, &found);
        char exe[PATH_MAX];
        ssize_t n = h ? -1 : readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            h = try_dir(exe, &found);
        }
        if (!h) h = try_open(DM_CUDA_PLUGIN_FILE, &found);
    }
    if (!h) return;
    dm_cuda_plugin_entry_fn entry = (dm_cuda_plugin_entry_fn)dlsym(h, DM_CUDA_PLUGIN_ENTRY);
    const dm_cuda_plugin *p = entry ? entry(&g_host) : NULL;
    if (!p) {
        snprintf(g_why, sizeof g_why, "%s", entry ? "built by another deepmotif (plugin interface mismatch)"
                                                  : "no " DM_CUDA_PLUGIN_ENTRY " in it (not a deepmotif plugin)");
        dlclose(h);
        return;
    }
    g_plugin = p;   /* never unloaded: backends may outlive any caller */
}

bool dm_backend_cuda_built(void) { return true; }

dm_status dm_backend_cuda_create(dm_backend **out, int device) {
    *out = NULL;
    pthread_once(&g_once, load);
    if (!g_plugin) return dm_error(DM_STATUS_BACKEND, "cuda:%d: " DM_CUDA_PLUGIN_FILE ": %s", device, g_why);
    return g_plugin->create(out, device);
}

dm_status dm_backend_cuda_cudnn(dm_backend *be) {
    pthread_once(&g_once, load);
    if (!g_plugin) return dm_error(DM_STATUS_BACKEND, "--cudnn: " DM_CUDA_PLUGIN_FILE ": %s", g_why);
    return g_plugin->cudnn(be);
}
