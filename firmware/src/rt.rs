//! Run-time support: exit codes, fault handlers, the instruction counter and the stack
//! high-water mark. The only `unsafe` of the firmware lives here (memory-mapped timer registers,
//! the linker's stack symbols, and the calibration loop).

use cortex_m_rt::{ExceptionFrame, exception};

/// Every expectation met.
pub const EXIT_OK: i32 = 0;
/// A prediction, a checksum or a learned weight differs from the host's.
pub const EXIT_MISMATCH: i32 = 1;
/// The model was rejected at boot (bad magic, version, CRC, shape …).
pub const EXIT_MODEL: i32 = 2;
/// A fixture file is damaged, or does not fit the model or the static buffers.
pub const EXIT_FIXTURE: i32 = 3;
/// A core function returned an error while running.
pub const EXIT_CORE: i32 = 4;
/// Rust panic.
pub const EXIT_PANIC: i32 = 101;
/// `defmt::panic!` / `unwrap!`.
pub const EXIT_DEFMT_PANIC: i32 = 102;
/// HardFault.
pub const EXIT_HARDFAULT: i32 = 103;

/// Ends the program; under QEMU (semihosting `SYS_EXIT_EXTENDED`) `code` becomes QEMU's exit
/// status.
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(EXIT_PANIC)
}

#[defmt::panic_handler]
fn defmt_panic() -> ! {
    exit(EXIT_DEFMT_PANIC)
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc={=u32:#x} lr={=u32:#x}", ef.pc(), ef.lr());
    exit(EXIT_HARDFAULT)
}

const TIM2: usize = 0x4000_0000;
const CR1: usize = 0x00;
const EGR: usize = 0x14;
const CNT: usize = 0x24;
const PSC: usize = 0x28;
const ARR: usize = 0x2C;

fn tim2_write(off: usize, v: u32) {
    // SAFETY: TIM2 register of the STM32F405 (and of QEMU's netduinoplus2); a 32-bit aligned
    // MMIO write with no effect on memory the program uses.
    unsafe { core::ptr::write_volatile((TIM2 + off) as *mut u32, v) }
}

#[inline(always)]
fn tim2_cnt() -> u32 {
    // SAFETY: as in `tim2_write`; reading CNT has no side effect.
    unsafe { core::ptr::read_volatile((TIM2 + CNT) as *const u32) }
}

/// Runs exactly `2n` instructions (`subs` + `bne` per iteration), `n >= 1`.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: register-only loop; touches no memory and no stack.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {0}, {0}, #1",
            "bne 2b",
            inout(reg) n => _,
            options(nomem, nostack)
        );
    }
}

#[inline(never)]
fn spin_ticks(n: u32) -> u32 {
    let a = tim2_cnt();
    spin(n);
    tim2_cnt().wrapping_sub(a)
}

/// Instruction counter: TIM2 counting at QEMU's 1 GHz of virtual time, which under
/// `-icount shift=0` is one tick per guest instruction. Calibrated at start: a loop of `2n`
/// instructions must read `2n + k` ticks for three values of `n`, else the counter is reported
/// unavailable (real hardware, QEMU without icount, or a changed timer model).
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    ok: bool,
    overhead: u32,
}

impl Counter {
    /// Starts TIM2 (free-running, prescaler 1, 32-bit reload) and calibrates it.
    pub fn start() -> Self {
        tim2_write(PSC, 0);
        tim2_write(ARR, u32::MAX);
        tim2_write(EGR, 1);
        tim2_write(CR1, 1);
        let d1 = spin_ticks(1_000);
        let d2 = spin_ticks(10_000);
        let d3 = spin_ticks(100_000);
        let ok = d1 >= 2_000
            && d1 - 2_000 < 100
            && d2.wrapping_sub(d1) == 18_000
            && d3.wrapping_sub(d2) == 180_000;
        if ok {
            defmt::info!(
                "counter: TIM2 counts instructions (calibrated: 2n loop = 2n + {=u32})",
                d1 - 2_000
            );
        } else {
            defmt::warn!(
                "counter unavailable (calibration: {=u32} {=u32} {=u32} ticks for 2000/20000/200000 instructions)",
                d1,
                d2,
                d3
            );
        }
        Self {
            ok,
            overhead: d1.saturating_sub(2_000),
        }
    }
    /// True when counts are instructions.
    pub fn ok(&self) -> bool {
        self.ok
    }
    /// Current count.
    #[inline(always)]
    pub fn now(&self) -> u32 {
        tim2_cnt()
    }
    /// Instructions since `start` (raw ticks minus the read overhead), `None` when unavailable.
    #[inline(always)]
    pub fn since(&self, start: u32) -> Option<u32> {
        let d = tim2_cnt().wrapping_sub(start);
        self.ok.then(|| d.saturating_sub(self.overhead))
    }
}

unsafe extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
    static __sdata: u32;
    static __ebss: u32;
}

/// Stack and static RAM in use, from the linker symbols and cortex-m-rt's painted stack.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Bytes of `.data` + `.bss` (+ `.uninit`).
    pub static_ram: u32,
    /// Bytes between the stack top and the deepest word no longer holding the paint.
    pub stack_high_water: u32,
    /// Bytes available to the stack.
    pub stack_size: u32,
}

/// Scans the painted stack (`0xCCCC_CCCC` from `_stack_end` up to `_stack_start`, filled by
/// cortex-m-rt's `paint-stack` before `main`) for the deepest word that was written.
pub fn memory() -> Memory {
    let lo = (&raw const _stack_end) as usize;
    let hi = (&raw const _stack_start) as usize;
    let s = (&raw const __sdata) as usize;
    let e = (&raw const __ebss) as usize;
    let mut p = lo;
    while p < hi {
        // SAFETY: `p` is word-aligned (the linker script aligns `_stack_end`) and inside RAM,
        // between the end of the statics and the top of the stack.
        let v = unsafe { core::ptr::read_volatile(p as *const u32) };
        if v != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        p += 4;
    }
    Memory {
        static_ram: (e - s) as u32,
        stack_high_water: (hi - p) as u32,
        stack_size: (hi - lo) as u32,
    }
}
