/**
 * Mark and sweep over a graph of resources: everything reachable from a
 * root survives, everything else is removed.
 *
 * The graph is supplied by whoever owns the records (the metadata store), so
 * the algorithm knows nothing of tables, files or label names.
 *
 * @module
 */

/** One resource: its type (`content`, `snapshot/overlayfs` …), tenant and key. */
export interface GcNode {
  /** Resource type. */
  type: string;
  /** Namespace it lives in. */
  namespace: string;
  /** Key within the type and namespace (a digest, a snapshot key …). */
  key: string;
}

/** The graph the collector walks. */
export interface GcGraph {
  /** Nodes that must survive regardless of references. */
  roots(): Iterable<GcNode>;
  /** Nodes that `node` keeps alive. */
  references(node: GcNode): Iterable<GcNode>;
  /** Every node that could be removed. */
  all(): Iterable<GcNode>;
  /** Removes the unreachable nodes. */
  remove(nodes: readonly GcNode[]): void;
  /**
   * The resource a node stands for, when several node types mark one
   * resource (a "flat" node keeps a resource without following its
   * references). Defaults to {@linkcode nodeKey}.
   */
  identity?(node: GcNode): string;
}

/** A stable string key for a node. */
export function nodeKey(node: GcNode): string {
  return `${node.type}\u0000${node.namespace}\u0000${node.key}`;
}

/** The identities of every resource reachable from the roots. */
export function mark(graph: GcGraph): Set<string> {
  const identity = graph.identity ?? nodeKey;
  const visited = new Set<string>();
  const reachable = new Set<string>();
  const pending: GcNode[] = [];
  const visit = (node: GcNode) => {
    const key = nodeKey(node);
    if (visited.has(key)) return;
    visited.add(key);
    reachable.add(identity(node));
    pending.push(node);
  };
  for (const root of graph.roots()) visit(root);
  for (let node = pending.pop(); node; node = pending.pop()) {
    for (const ref of graph.references(node)) visit(ref);
  }
  return reachable;
}

/** Marks, then removes every unreachable node; returns what was removed. */
export function collect(graph: GcGraph): GcNode[] {
  const reachable = mark(graph);
  const identity = graph.identity ?? nodeKey;
  const garbage = [...graph.all()].filter((node) =>
    !reachable.has(identity(node))
  );
  if (garbage.length > 0) graph.remove(garbage);
  return garbage;
}
