// vitest setup file: runs in every test file; removes what the shared test helpers left in the temporary folder.
import { afterAll } from "vitest";
import { removeTestApps } from "./test-app";

afterAll(() => removeTestApps());
