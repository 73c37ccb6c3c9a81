// Emulated NVRTC: "compiles" a CUDA program by building it as C++ (with device.h) into a shared
// object, and hands back a short text naming that object in place of PTX. The emulated driver
// (driver.cpp) loads it. Objects are cached by the hash of everything that goes into them.
//
// Environment: HEBB_CUDA_EMU_CXX (compiler, default g++), HEBB_CUDA_EMU_CACHE (cache folder,
// default $TMPDIR/hebb-cuda-emu-<uid>).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#ifndef HEBB_EMU_DIR
#error "build with -DHEBB_EMU_DIR=<folder of device.h>"
#endif

namespace {

enum Result {
    SUCCESS = 0,
    ERROR_OUT_OF_MEMORY = 1,
    ERROR_INVALID_INPUT = 3,
    ERROR_INVALID_PROGRAM = 4,
    ERROR_INVALID_OPTION = 5,
    ERROR_COMPILATION = 6,
};

struct Program {
    std::string src, name, log, image;
};

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

unsigned long long fnv(const std::string& s, unsigned long long h) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

std::string cache_dir() {
    if (const char* d = std::getenv("HEBB_CUDA_EMU_CACHE")) return d;
    const char* t = std::getenv("TMPDIR");
    return std::string(t && *t ? t : "/tmp") + "/hebb-cuda-emu-" + std::to_string(getuid());
}

// Kernel source as C++: dynamic shared memory becomes the runtime's buffer; every kernel gets
// an exported entry point that unpacks its arguments.
std::string translate(const std::string& src) {
    static const std::regex dyn(
        R"(extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?(\w[\w\s]*?)\s+(\w+)\s*\[\s*\]\s*;)");
    std::string out = std::regex_replace(src, dyn, "$1* const $2 = ($1*)hebb_emu_rt->dyn_smem;");
    static const std::regex kern(
        R"re(extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\()re");
    out += "\n// --- emulator entry points\n";
    out += "extern \"C\" thread_local EmuRt* hebb_emu_rt = nullptr;\n";
    out += "extern \"C\" void hebb_emu_bind(EmuRt* rt) { hebb_emu_rt = rt; }\n";
    for (auto it = std::sregex_iterator(src.begin(), src.end(), kern); it != std::sregex_iterator();
         ++it) {
        const std::string k = (*it)[1];
        out += "extern \"C\" void hebb_emu_kernel_" + k + "(void** a) { hebb_emu_call(" + k +
               ", a); }\n";
    }
    return out;
}

// Runs argv, output to `log_path`; true on exit status 0.
bool run(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(a[0], a.data());
        std::fprintf(stderr, "cannot run %s: %s\n", a[0], std::strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

Result compile(Program& p, const std::vector<std::string>& opts) {
    const std::string dir = HEBB_EMU_DIR;
    std::vector<std::string> defs;
    std::string arch = "900";
    for (const auto& o : opts) {
        if (o.rfind("-D", 0) == 0 || o.rfind("-U", 0) == 0) {
            defs.push_back(o);
        } else if (o.rfind("--gpu-architecture=", 0) == 0 || o.rfind("-arch=", 0) == 0) {
            const auto eq = o.find('=');
            const auto v = o.substr(eq + 1);
            const auto us = v.find('_');
            if (us != std::string::npos) arch = v.substr(us + 1) + "0";
            while (!arch.empty() && !std::isdigit((unsigned char)arch.back())) arch.pop_back();
            if (arch.size() > 4) arch = arch.substr(0, 4);
        } else if (o.rfind("--std=", 0) == 0 || o.rfind("-std=", 0) == 0) {
            // C++17 is what the emulator builds with.
        } else if (o == "--use_fast_math" || o == "-lineinfo" || o == "-G" ||
                   o.rfind("--fmad", 0) == 0 || o.rfind("--maxrregcount", 0) == 0) {
            // No effect on integer code run on the CPU.
        } else {
            p.log = "emulated NVRTC: unsupported option " + o + "\n";
            return ERROR_INVALID_OPTION;
        }
    }
    const std::string code = translate(p.src);
    unsigned long long h = 0xcbf29ce484222325ull;
    h = fnv(code, h);
    for (const auto& d : defs) h = fnv(d + "\n", h);
    h = fnv(arch, h);
    h = fnv(read_file(dir + "/device.h"), h);
    h = fnv(read_file(dir + "/runtime.h"), h);
    const char* cxx_env = std::getenv("HEBB_CUDA_EMU_CXX");
    const std::string cxx = cxx_env && *cxx_env ? cxx_env : "g++";
    h = fnv(cxx, h);
    const std::string cdir = cache_dir();
    mkdir(cdir.c_str(), 0700);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", h);
    const std::string so = cdir + "/" + hex + ".so";
    struct stat st;
    if (stat(so.c_str(), &st) != 0) {
        const std::string tag = std::to_string(getpid()) + "-" +
                                std::to_string((unsigned long long)(uintptr_t)&p);
        const std::string cpp = cdir + "/" + hex + "-" + tag + ".cpp";
        const std::string tmp = cdir + "/" + hex + "-" + tag + ".so.tmp";
        const std::string log = cdir + "/" + hex + "-" + tag + ".log";
        {
            std::ofstream f(cpp, std::ios::binary);
            f << code;
            if (!f) {
                p.log = "emulated NVRTC: cannot write " + cpp + "\n";
                return ERROR_OUT_OF_MEMORY;
            }
        }
        std::vector<std::string> argv = {cxx,
                                         "-std=c++17",
                                         "-O2",
                                         "-fPIC",
                                         "-shared",
                                         "-fno-strict-aliasing",
                                         "-fwrapv",
                                         "-w",
                                         "-I" + dir,
                                         "-include",
                                         dir + "/device.h",
                                         "-D__CUDA_ARCH__=" + arch,
                                         "-D__CUDACC__",
                                         "-D__CUDACC_RTC__"};
        argv.insert(argv.end(), defs.begin(), defs.end());
        argv.insert(argv.end(), {"-x", "c++", cpp, "-o", tmp});
        const bool ok = run(argv, log);
        p.log = read_file(log);
        unlink(log.c_str());
        unlink(cpp.c_str());
        if (!ok) {
            unlink(tmp.c_str());
            if (p.log.empty()) p.log = "emulated NVRTC: " + cxx + " failed\n";
            return ERROR_COMPILATION;
        }
        if (rename(tmp.c_str(), so.c_str()) != 0) {
            p.log = "emulated NVRTC: cannot move the object into " + cdir + "\n";
            return ERROR_COMPILATION;
        }
    }
    p.image = "HEBB-CUDA-EMU " + so + "\n";
    return SUCCESS;
}

}  // namespace

extern "C" {

const char* nvrtcGetErrorString(int r) {
    switch (r) {
        case SUCCESS: return "NVRTC_SUCCESS";
        case ERROR_OUT_OF_MEMORY: return "NVRTC_ERROR_OUT_OF_MEMORY";
        case ERROR_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
        case ERROR_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
        case ERROR_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
        case ERROR_COMPILATION: return "NVRTC_ERROR_COMPILATION";
        default: return "NVRTC_ERROR (emulated)";
    }
}

int nvrtcVersion(int* major, int* minor) {
    if (!major || !minor) return ERROR_INVALID_INPUT;
    *major = 13;
    *minor = 0;
    return SUCCESS;
}

int nvrtcCreateProgram(Program** prog, const char* src, const char* name, int num_headers,
                       const char* const*, const char* const*) {
    if (!prog || !src) return ERROR_INVALID_INPUT;
    if (num_headers != 0) return ERROR_INVALID_INPUT;  // the kernels are self-contained
    *prog = new Program{src, name ? name : "default_program", "", ""};
    return SUCCESS;
}

int nvrtcDestroyProgram(Program** prog) {
    if (!prog || !*prog) return ERROR_INVALID_PROGRAM;
    delete *prog;
    *prog = nullptr;
    return SUCCESS;
}

int nvrtcCompileProgram(Program* prog, int n, const char* const* options) {
    if (!prog) return ERROR_INVALID_PROGRAM;
    std::vector<std::string> opts;
    for (int i = 0; i < n; i++) opts.emplace_back(options[i]);
    return compile(*prog, opts);
}

int nvrtcGetPTXSize(Program* prog, size_t* size) {
    if (!prog || !size) return ERROR_INVALID_INPUT;
    *size = prog->image.size() + 1;
    return SUCCESS;
}

int nvrtcGetPTX(Program* prog, char* out) {
    if (!prog || !out) return ERROR_INVALID_INPUT;
    std::memcpy(out, prog->image.c_str(), prog->image.size() + 1);
    return SUCCESS;
}

int nvrtcGetProgramLogSize(Program* prog, size_t* size) {
    if (!prog || !size) return ERROR_INVALID_INPUT;
    *size = prog->log.size() + 1;
    return SUCCESS;
}

int nvrtcGetProgramLog(Program* prog, char* out) {
    if (!prog || !out) return ERROR_INVALID_INPUT;
    std::memcpy(out, prog->log.c_str(), prog->log.size() + 1);
    return SUCCESS;
}

}  // extern "C"
