/**
 * Imported first by bin/fdfs_storaged and bin/mogstored, before anything
 * touches libuv's thread pool, which reads UV_THREADPOOL_SIZE once when it starts.
 *
 * Why 16 instead of libuv's 4: a zero-copy download (engine/io/sendfile.ts)
 * holds a pool thread for as long as the client takes to read the file, and the
 * same pool runs every async file operation. With 4 threads only 3 downloads at
 * a time could go zero-copy; at 32 clients most fell back to copying through
 * the JS heap. Idle threads cost a stack's worth of address space, no CPU. An
 * operator's own UV_THREADPOOL_SIZE wins.
 */
process.env.UV_THREADPOOL_SIZE ??= '16'
export {}
