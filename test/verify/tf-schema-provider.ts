// Test-only Terraform provider: serves a jsii-derived provider schema over Terraform's plugin protocol 6
// (go-plugin handshake, AutoMTLS, tfplugin6) and accepts every config, so `terraform validate` can run
// offline and do its own schema, type and reference checks. It never plans or applies anything.
// Usage (from a wrapper script): node tf-schema-provider.js <binding package, e.g. @cdktf/provider-aws>
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { loadProviderSchema, type BlockSchema, type ProviderSchema } from "./provider-schema";

/** The cookie Terraform passes to its plugins; a plugin started by anything else should refuse. */
const MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

const NESTING_LIST = 2;

interface ProtoAttribute {
  name: string;
  type: Buffer;
  required: boolean;
  optional: boolean;
  computed: boolean;
  write_only: boolean;
}
interface ProtoBlock {
  attributes: ProtoAttribute[];
  block_types: {
    type_name: string;
    block: ProtoBlock;
    nesting: number;
    min_items: number;
    max_items: number;
  }[];
}

/** A write-only argument: a config argument named `*_wo` (not a provider-set flag such as `has_value_wo`). */
function isWriteOnly(name: string, a: { computed: boolean }): boolean {
  return name.endsWith("_wo") && !a.computed;
}

/**
 * Converts a derived block schema to tfplugin6's Block. Every nested block is a LIST block (a JSON
 * object is accepted as its single item); `single` bindings become max_items 1, as the provider has it.
 */
export function toProtoBlock(block: BlockSchema, skip: ReadonlySet<string> = new Set()): ProtoBlock {
  return {
    attributes: Object.entries(block.attributes)
      .filter(([name]) => !skip.has(name))
      .map(([name, a]) => ({
        name,
        type: Buffer.from(JSON.stringify(a.type)),
        required: a.required,
        optional: !a.required && !a.computed,
        // Optional arguments are also computed: the provider may fill them, as most real ones do. Write-only
        // arguments (`*_wo`, the providers' naming convention) are neither: Terraform then lets ephemeral values
        // into them, and only into them, exactly as with the real providers.
        computed: !a.required && !isWriteOnly(name, a),
        write_only: isWriteOnly(name, a),
      })),
    block_types: Object.entries(block.blocks).map(([name, b]) => ({
      type_name: name,
      block: toProtoBlock(b.block),
      nesting: NESTING_LIST,
      min_items: b.required ? 1 : 0,
      max_items: b.nesting === "single" ? 1 : 0,
    })),
  };
}

function schemaResponse(schema: ProviderSchema) {
  const wrap = (block: ProtoBlock) => ({ version: 0, block });
  const table = (entries: Record<string, BlockSchema>) =>
    Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, wrap(toProtoBlock(v))]));
  return {
    // `alias` is a meta-argument Terraform strips before the provider sees the config.
    provider: wrap(toProtoBlock(schema.provider, new Set(["alias"]))),
    resource_schemas: table(schema.resources),
    data_source_schemas: table(schema.dataSources),
    ephemeral_resource_schemas: table(schema.ephemeralResources ?? {}),
    diagnostics: [],
    server_capabilities: { plan_destroy: false, get_provider_schema_optional: false },
  };
}

/** Self-signed ECDSA cert for localhost, as go-plugin's AutoMTLS expects of a plugin. */
function serverCertificate(): { key: Buffer; cert: Buffer; derBase64: string } {
  const dir = mkdtempSync(join(tmpdir(), "tfsp-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/O=HashiCorp/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "-addext",
        "extendedKeyUsage=serverAuth,clientAuth",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const cert = readFileSync(join(dir, "cert.pem"));
    const der = Buffer.from(cert.toString("utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
    return {
      key: readFileSync(join(dir, "key.pem")),
      cert,
      derBase64: der.toString("base64").replace(/=+$/, ""),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function main(argv: string[]): void {
  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    process.stderr.write("This binary is a Terraform plugin and is meant to be started by Terraform.\n");
    process.exit(1);
  }
  const packageName = argv[0];
  if (!packageName) throw new Error("usage: tf-schema-provider <binding package>");
  const nodeModules = process.env.TF_SCHEMA_PROVIDER_NODE_MODULES ?? join(process.cwd(), "node_modules");
  const schema = loadProviderSchema(packageName, nodeModules);
  const response = schemaResponse(schema);

  const protoDir = process.env.TF_SCHEMA_PROVIDER_PROTO_DIR ?? join(__dirname, "proto");
  const definition = protoLoader.loadSync(["tfplugin6.proto", "go-plugin.proto", "health.proto"], {
    includeDirs: [protoDir],
    keepCase: true,
    longs: Number,
    enums: Number,
    defaults: true,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pkg = grpc.loadPackageDefinition(definition) as any;
  const server = new grpc.Server({
    "grpc.max_send_message_length": -1,
    "grpc.max_receive_message_length": -1,
  });
  const empty = { diagnostics: [] };
  const reply =
    (value: object) =>
    (_call: unknown, callback: grpc.sendUnaryData<object>): void =>
      callback(null, value);
  server.addService(pkg.tfplugin6.Provider.service, {
    GetProviderSchema: reply(response),
    ValidateProviderConfig: reply(empty),
    ValidateResourceConfig: reply(empty),
    ValidateDataResourceConfig: reply(empty),
    ValidateEphemeralResourceConfig: reply(empty),
    ConfigureProvider: reply(empty),
    GetFunctions: reply({ functions: {}, diagnostics: [] }),
    StopProvider: reply({ Error: "" }),
  });
  server.addService(pkg.plugin.GRPCController.service, {
    Shutdown: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      callback(null, {});
      setTimeout(() => process.exit(0), 50);
    },
  });
  server.addService(pkg.grpc.health.v1.Health.service, { Check: reply({ status: 1 }) });

  const clientCert = process.env.PLUGIN_CLIENT_CERT;
  if (!clientCert) throw new Error("PLUGIN_CLIENT_CERT is not set: this server supports AutoMTLS only");
  const { key, cert, derBase64 } = serverCertificate();
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(clientCert),
    [{ private_key: key, cert_chain: cert }],
    true,
  );
  const socketDir = mkdtempSync(join(process.env.PLUGIN_UNIX_SOCKET_DIR ?? tmpdir(), "tfsp-"));
  const socket = join(socketDir, "plugin.sock");
  server.bindAsync(`unix://${socket}`, credentials, (err) => {
    if (err) {
      process.stderr.write(`bind failed: ${err.message}\n`);
      process.exit(1);
    }
    // go-plugin handshake: core version | app protocol version | network | address | protocol | server cert.
    process.stdout.write(`1|6|unix|${socket}|grpc|${derBase64}\n`);
  });
  const cleanup = () => rmSync(socketDir, { recursive: true, force: true });
  process.on("exit", cleanup);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
}

if (require.main === module) main(process.argv.slice(2));
