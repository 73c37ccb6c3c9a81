// The interface between the emulated driver (driver.cpp) and kernel code built with device.h.
#pragma once

struct uint3 {
    unsigned x, y, z;
};

struct EmuThread {
    uint3 idx;
    unsigned linear;  // x + y·dim.x + z·dim.x·dim.y; lane = linear % 32
};

struct EmuRt {
    EmuThread* cur;  // the fiber running now
    uint3 block_idx, block_dim, grid_dim;
    unsigned char* dyn_smem;
    long long clock;
    void (*sync_block)(EmuRt*);
    // Deposits `v` for the calling lane, waits for every lane of `mask`, copies all 32 slots.
    void (*warp_exchange)(EmuRt*, unsigned mask, unsigned long long v, unsigned long long* out);
};

// Every emulated kernel module exports, per `extern "C" __global__` kernel NAME:
//   void hebb_emu_kernel_NAME(void** args)   -- runs NAME for the current fiber
// and `void hebb_emu_bind(EmuRt*)`, which sets the module's thread-local runtime pointer.
