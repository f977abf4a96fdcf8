/*
 * plugin.c: the entry of libdeepmotif_cuda.so (plugin.h). The backend's sources call dm_error,
 * dm_backend_fail and dm_backend_free as they do when linked into the library; here those names are
 * small forwarders to the library's functions, received at entry. Only dm_cuda_plugin_entry is
 * exported (everything else is compiled hidden).
 */
#include <stdarg.h>
#include <stdio.h>

#include "dm_base.h"
#include "plugin.h"

static const dm_cuda_host *g_host;

dm_status dm_error(dm_status status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return g_host->error(status, msg);
}

void dm_backend_fail(dm_backend *be, dm_status s, const char *msg) { g_host->backend_fail(be, s, msg); }

void dm_backend_free(dm_backend *be) { g_host->backend_free(be); }

__attribute__((visibility("default"))) const dm_cuda_plugin *dm_cuda_plugin_entry(const dm_cuda_host *host);

const dm_cuda_plugin *dm_cuda_plugin_entry(const dm_cuda_host *host) {
    static const dm_cuda_plugin plugin = {
        .abi = DM_CUDA_PLUGIN_ABI, .backend_size = sizeof(struct dm_backend),
        .table_size = sizeof(struct dm_backend_i),
        .create = dm_backend_cuda_create, .cudnn = dm_backend_cuda_cudnn,
    };
    if (!host || host->abi != DM_CUDA_PLUGIN_ABI || host->backend_size != sizeof(struct dm_backend) ||
        host->table_size != sizeof(struct dm_backend_i))
        return NULL;
    g_host = host;
    return &plugin;
}
