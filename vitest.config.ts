import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // 2-core machines: the S3 servers need the other core, so test files run one at a time.
    fileParallelism: false,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Real S3 servers: three Ceph RGW gateways started once for the run (or reused, or
          // taken from S3X_TEST_ENDPOINTS). See README "Tests".
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
