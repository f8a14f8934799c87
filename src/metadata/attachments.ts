/**
 * Network attachment records: what a CNI ADD attached, so that DEL can undo
 * it and the owner's deletion can find it. A record without a result is an
 * ADD that has not finished (or never will, after a crash), or a parked
 * attachment: DELeted when its container's task was, to be added again for
 * the next task.
 *
 * @module
 */
import { alreadyExists, notFound, validateLabels } from "../types/mod.ts";
import type { MetadataDB } from "./db.ts";
import type { NamespaceStore } from "./namespaces.ts";

/** A port published through the chain's portmap plugin. */
export interface PortMapping {
  /** The host's port. */
  hostPort: number;
  /** The container's port. */
  containerPort: number;
  /** "tcp" or "udp". */
  protocol: string;
  /** Host address to bind; "" for all. */
  hostIP: string;
}

/** An attachment of a netns to a network. */
export interface AttachmentRecord {
  /** Its id, unique in the tenant namespace. */
  id: string;
  /** The network (conflist) name. */
  network: string;
  /** The berth netns name; "" when attached by path. */
  netns: string;
  /** The netns path the plugins ran in. */
  netnsPath: string;
  /** CNI_IFNAME. */
  ifname: string;
  /** The owning container; "" for none. */
  containerId: string;
  /** Published ports. */
  portMappings: PortMapping[];
  /** The chain's CNI result (JSON text); undefined while ADD runs or parked. */
  result?: string;
  /** DELeted with its container's task; added again for the next one. */
  parked: boolean;
  /** Its labels. */
  labels: Record<string, string>;
  /** The CNI_ARGS pairs its chain runs with (ADD, CHECK and DEL alike). */
  args: Record<string, string>;
  /** When it was created. */
  createdAt: Date;
}

interface AttachmentRow {
  id: string;
  network: string;
  netns: string;
  netns_path: string;
  ifname: string;
  container_id: string;
  port_mappings: string;
  result: string | null;
  labels: string;
  created_at: number;
  parked: number;
  cni_args: string;
}

const COLUMNS =
  "id, network, netns, netns_path, ifname, container_id, port_mappings, result, labels, created_at, parked, cni_args";

function toRecord(row: AttachmentRow): AttachmentRecord {
  return {
    id: row.id,
    network: row.network,
    netns: row.netns,
    netnsPath: row.netns_path,
    ifname: row.ifname,
    containerId: row.container_id,
    portMappings: JSON.parse(row.port_mappings),
    result: row.result ?? undefined,
    labels: JSON.parse(row.labels),
    args: JSON.parse(row.cni_args),
    createdAt: new Date(row.created_at),
    parked: row.parked !== 0,
  };
}

/** Attachment records in the metadata database. */
export class AttachmentStore {
  readonly #db: MetadataDB;
  readonly #namespaces: NamespaceStore;

  /** Creates the store over `db`; a tenant with attachments cannot be deleted. */
  constructor(db: MetadataDB, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
    namespaces.addContentCheck((namespace) =>
      this.list(namespace).length > 0 ? "network attachments" : undefined
    );
  }

  /** The attachment `id` of `namespace`, or NotFound. */
  get(namespace: string, id: string): AttachmentRecord {
    const row = this.#db.sql.prepare(
      `SELECT ${COLUMNS} FROM network_attachments WHERE namespace = ? AND id = ?`,
    ).get(namespace, id) as AttachmentRow | undefined;
    if (!row) throw notFound(`attachment ${JSON.stringify(id)}`);
    return toRecord(row);
  }

  /** Every attachment of `namespace`, by id. */
  list(namespace: string): AttachmentRecord[] {
    return (this.#db.sql.prepare(
      `SELECT ${COLUMNS} FROM network_attachments WHERE namespace = ? ORDER BY id`,
    ).all(namespace) as unknown as AttachmentRow[]).map(toRecord);
  }

  /** Every attachment of every tenant, for reconciliation at start. */
  listAll(): (AttachmentRecord & { namespace: string })[] {
    return (this.#db.sql.prepare(
      `SELECT namespace, ${COLUMNS} FROM network_attachments ORDER BY namespace, id`,
    ).all() as unknown as (AttachmentRow & { namespace: string })[]).map((
      row,
    ) => ({ namespace: row.namespace, ...toRecord(row) }));
  }

  /** Records an attachment about to be made; AlreadyExists when the id is taken. */
  create(
    namespace: string,
    record: Omit<AttachmentRecord, "createdAt" | "result" | "parked">,
  ): AttachmentRecord {
    validateLabels("attachment", record.labels);
    return this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      const result = this.#db.sql.prepare(
        `INSERT INTO network_attachments (namespace, ${COLUMNS})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 0, ?) ON CONFLICT DO NOTHING`,
      ).run(
        namespace,
        record.id,
        record.network,
        record.netns,
        record.netnsPath,
        record.ifname,
        record.containerId,
        JSON.stringify(record.portMappings),
        JSON.stringify(record.labels),
        Date.now(),
        JSON.stringify(record.args),
      );
      if (result.changes === 0) {
        throw alreadyExists(`attachment ${JSON.stringify(record.id)}`);
      }
      return this.get(namespace, record.id);
    });
  }

  /** Stores the chain's result: the attachment is complete (not parked). */
  complete(namespace: string, id: string, result: string): AttachmentRecord {
    this.#db.sql.prepare(
      "UPDATE network_attachments SET result = ?, parked = 0 WHERE namespace = ? AND id = ?",
    ).run(result, namespace, id);
    return this.get(namespace, id);
  }

  /** Marks an attachment DELeted but kept for the next task. */
  park(namespace: string, id: string): AttachmentRecord {
    this.#db.sql.prepare(
      "UPDATE network_attachments SET result = NULL, parked = 1 WHERE namespace = ? AND id = ?",
    ).run(namespace, id);
    return this.get(namespace, id);
  }

  /** Forgets an attachment (absent is fine: deletion is idempotent). */
  delete(namespace: string, id: string): void {
    this.#db.sql.prepare(
      "DELETE FROM network_attachments WHERE namespace = ? AND id = ?",
    ).run(namespace, id);
  }
}
