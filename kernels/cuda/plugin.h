/*
 * plugin.h: the interface between libdeepmotif (kernels/cuda_load.c) and the CUDA backend built as
 * the shared object libdeepmotif_cuda.so (kernels/cuda/plugin.c).
 *
 * Why a plugin: cudart, cuBLAS and cuDNN are needed only when a CUDA device is asked for, so the
 * library and the program must start on machines without them. The loader dlopen()s the plugin
 * and calls its one exported function, dm_cuda_plugin_entry, with the few library functions the
 * backend calls back (error recording, sticky backend failures, freeing a half-built backend); the
 * plugin returns its two entry points. Both sides compare the ABI number and the sizes of the
 * structures they share (struct dm_backend and its table, backend.h), so a plugin of another build
 * is refused with a message rather than run.
 */
#ifndef DM_CUDA_PLUGIN_H
#define DM_CUDA_PLUGIN_H

#include <stddef.h>

#include "backend.h"

#define DM_CUDA_PLUGIN_ABI 1
#define DM_CUDA_PLUGIN_FILE "libdeepmotif_cuda.so"
#define DM_CUDA_PLUGIN_ENTRY "dm_cuda_plugin_entry"

/* What the library lends the plugin. */
typedef struct dm_cuda_host {
    int abi;                   /* DM_CUDA_PLUGIN_ABI */
    size_t backend_size;       /* sizeof(struct dm_backend) */
    size_t table_size;         /* sizeof(struct dm_backend_i) */
    dm_status (*error)(dm_status s, const char *msg);   /* records msg for dm_last_error() */
    void (*backend_fail)(dm_backend *be, dm_status s, const char *msg);
    void (*backend_free)(dm_backend *be);
} dm_cuda_host;

/* What the plugin provides: kernels/backend.h's dm_backend_cuda_create and dm_backend_cuda_cudnn. */
typedef struct dm_cuda_plugin {
    int abi;
    size_t backend_size;
    size_t table_size;
    dm_status (*create)(dm_backend **out, int device);
    dm_status (*cudnn)(dm_backend *be);
} dm_cuda_plugin;

/* The plugin's one exported function; NULL when host's ABI or sizes differ from the plugin's. */
typedef const dm_cuda_plugin *(*dm_cuda_plugin_entry_fn)(const dm_cuda_host *host);

#endif /* DM_CUDA_PLUGIN_H */
