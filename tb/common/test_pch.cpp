// Nothing of its own: the target that owns the tests' precompiled headers
// needs one source (tb/CMakeLists.txt).
