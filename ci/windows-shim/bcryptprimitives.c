/*
 * bcryptprimitives.dll for wine 8, which lacks ProcessPrng: Rust's std
 * (1.78+) imports it for HashMap keys and random seeds. ProcessPrng fills
 * a buffer with random bytes and always succeeds; RtlGenRandom
 * (SystemFunction036 in advapi32) does the same, so this forwards to it.
 * Built by ci/windows with mingw-w64 and copied into the private prefix's
 * system32; nothing else uses it.
 */
#include <windows.h>

typedef BOOLEAN(WINAPI *gen_random_fn)(PVOID, ULONG);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    static gen_random_fn gen;
    if (!gen) {
        HMODULE advapi = LoadLibraryA("advapi32.dll");
        if (!advapi)
            return FALSE;
        gen = (gen_random_fn)GetProcAddress(advapi, "SystemFunction036");
        if (!gen)
            return FALSE;
    }
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!gen(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    (void)reason;
    (void)reserved;
    return TRUE;
}
