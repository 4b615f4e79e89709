;; tiny: the smallest useful computemesh job. It writes "tiny job done" to
;; stdout through WASI and exits 0. Used by the throughput benchmark, where a
;; 2.6 MB Go module's start-up would measure Go's runtime, not the mesh.
;;
;; Rebuild: wat2wasm tiny.wat -o tiny.wasm   (Debian package: wabt)
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (export "memory" (memory 0))
  (data (i32.const 16) "tiny job done\n")
  (func (export "_start")
    ;; one iovec at address 0: {buf = 16, len = 14}
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 14))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
