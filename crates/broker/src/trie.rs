//! The subscription trie: topic filters by level, matched against topic names.
//!
//! One node per filter level; `+` and `#` are children of their own so that matching a topic
//! walks at most three branches per level. Shared subscriptions (`$share/{group}/{filter}`) sit
//! at the node of their filter in a per-group member list; a match picks one member of each
//! group round-robin. The tree is generic over the subscriber key and value so that it can be
//! tested and benchmarked alone. It takes no locks: the owner decides (the broker keeps it
//! behind a read-mostly lock).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Subscriptions indexed by topic filter.
#[derive(Debug)]
pub struct SubscriptionTree<K, V> {
    root: Node<K, V>,
    len: usize,
}

#[derive(Debug)]
struct Node<K, V> {
    children: HashMap<Box<str>, Node<K, V>>,
    plus: Option<Box<Node<K, V>>>,
    /// Subscribers whose filter ends with `#` at this level.
    hash: Vec<(K, V)>,
    /// Subscribers whose filter ends exactly here.
    exact: Vec<(K, V)>,
    /// Shared groups whose filter ends exactly here.
    shared: Vec<SharedGroup<K, V>>,
    /// Shared groups whose filter ends with `#` at this level.
    shared_hash: Vec<SharedGroup<K, V>>,
}

#[derive(Debug)]
struct SharedGroup<K, V> {
    name: Box<str>,
    members: Vec<(K, V)>,
    next: AtomicUsize,
}

impl<K, V> Default for Node<K, V> {
    fn default() -> Self {
        Node {
            children: HashMap::new(),
            plus: None,
            hash: Vec::new(),
            exact: Vec::new(),
            shared: Vec::new(),
            shared_hash: Vec::new(),
        }
    }
}

impl<K, V> Node<K, V> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.exact.is_empty()
            && self.shared.is_empty()
            && self.shared_hash.is_empty()
    }
}

impl<K: PartialEq, V> Default for SubscriptionTree<K, V> {
    fn default() -> Self {
        SubscriptionTree { root: Node::default(), len: 0 }
    }
}

impl<K: PartialEq, V> SubscriptionTree<K, V> {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of subscriptions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds or replaces the subscription of `key` to `filter` (in `group` if shared).
    /// Returns whether it replaced an existing one.
    pub fn insert(&mut self, filter: &str, group: Option<&str>, key: K, value: V) -> bool {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        let mut ends_with_hash = false;
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                ends_with_hash = true;
                break;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Box::default)
            } else {
                node.children.entry(Box::from(level)).or_default()
            };
        }
        let replaced = match group {
            None => {
                let list = if ends_with_hash { &mut node.hash } else { &mut node.exact };
                upsert(list, key, value)
            }
            Some(name) => {
                let groups = if ends_with_hash { &mut node.shared_hash } else { &mut node.shared };
                let index = match groups.iter().position(|g| &*g.name == name) {
                    Some(index) => index,
                    None => {
                        groups.push(SharedGroup {
                            name: Box::from(name),
                            members: Vec::new(),
                            next: AtomicUsize::new(0),
                        });
                        groups.len() - 1
                    }
                };
                upsert(&mut groups[index].members, key, value)
            }
        };
        if !replaced {
            self.len += 1;
        }
        replaced
    }

    /// Removes the subscription of `key` to `filter` (in `group`); returns its value.
    pub fn remove(&mut self, filter: &str, group: Option<&str>, key: &K) -> Option<V> {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_at(&mut self.root, &levels, group, key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Calls `visit` for every subscription matching `topic`. For each shared group that
    /// matches, only one member is visited, chosen round-robin.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut visit: impl FnMut(&'a K, &'a V)) {
        let system = topic.starts_with('$');
        match_node(&self.root, Some(topic), true, system, &mut visit);
    }

    /// Whether any subscription matches `topic`. Unlike [`SubscriptionTree::for_each_match`]
    /// it moves no shared group's round-robin on.
    pub fn has_match(&self, topic: &str) -> bool {
        any_match(&self.root, Some(topic), true, topic.starts_with('$'))
    }
}

fn upsert<K: PartialEq, V>(list: &mut Vec<(K, V)>, key: K, value: V) -> bool {
    if let Some(slot) = list.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = value;
        true
    } else {
        list.push((key, value));
        false
    }
}

fn take<K: PartialEq, V>(list: &mut Vec<(K, V)>, key: &K) -> Option<V> {
    let index = list.iter().position(|(k, _)| k == key)?;
    Some(list.swap_remove(index).1)
}

fn take_shared<K: PartialEq, V>(
    groups: &mut Vec<SharedGroup<K, V>>,
    name: &str,
    key: &K,
) -> Option<V> {
    let index = groups.iter().position(|g| &*g.name == name)?;
    let value = take(&mut groups[index].members, key)?;
    if groups[index].members.is_empty() {
        groups.swap_remove(index);
    }
    Some(value)
}

fn remove_at<K: PartialEq, V>(
    node: &mut Node<K, V>,
    levels: &[&str],
    group: Option<&str>,
    key: &K,
) -> Option<V> {
    match levels {
        [] => match group {
            None => take(&mut node.exact, key),
            Some(name) => take_shared(&mut node.shared, name, key),
        },
        ["#"] => match group {
            None => take(&mut node.hash, key),
            Some(name) => take_shared(&mut node.shared_hash, name, key),
        },
        [first, rest @ ..] => {
            if *first == "+" {
                let child = node.plus.as_deref_mut()?;
                let removed = remove_at(child, rest, group, key);
                if child.is_empty() {
                    node.plus = None;
                }
                removed
            } else {
                let child = node.children.get_mut(*first)?;
                let removed = remove_at(child, rest, group, key);
                if child.is_empty() {
                    node.children.remove(*first);
                }
                removed
            }
        }
    }
}

fn visit_shared<'a, K, V>(groups: &'a [SharedGroup<K, V>], visit: &mut impl FnMut(&'a K, &'a V)) {
    for group in groups {
        if group.members.is_empty() {
            continue;
        }
        let turn = group.next.fetch_add(1, Ordering::Relaxed) % group.members.len();
        let (k, v) = &group.members[turn];
        visit(k, v);
    }
}

/// Visits the subscriptions under `node` matching `rest`, the levels of the topic not yet
/// walked (`None` once every level is consumed). Walks the topic in place, allocating nothing.
fn match_node<'a, K, V>(
    node: &'a Node<K, V>,
    rest: Option<&str>,
    first: bool,
    system: bool,
    visit: &mut impl FnMut(&'a K, &'a V),
) {
    // A filter starting with a wildcard never matches a `$` topic [MQTT-4.7.2-1].
    let wildcards = !(first && system);
    if wildcards {
        // `#` matches this level and everything below, including the parent level itself.
        for (k, v) in &node.hash {
            visit(k, v);
        }
        visit_shared(&node.shared_hash, visit);
    }
    let Some(rest) = rest else {
        for (k, v) in &node.exact {
            visit(k, v);
        }
        visit_shared(&node.shared, visit);
        return;
    };
    let (level, next) = match rest.split_once('/') {
        Some((level, next)) => (level, Some(next)),
        None => (rest, None),
    };
    if let Some(child) = node.children.get(level) {
        match_node(child, next, false, system, visit);
    }
    if wildcards && let Some(plus) = node.plus.as_deref() {
        match_node(plus, next, false, system, visit);
    }
}

fn any_match<K, V>(node: &Node<K, V>, rest: Option<&str>, first: bool, system: bool) -> bool {
    // The same walk as `match_node`, stopping at the first subscriber.
    let wildcards = !(first && system);
    if wildcards && (!node.hash.is_empty() || !node.shared_hash.is_empty()) {
        return true;
    }
    let Some(rest) = rest else {
        return !node.exact.is_empty() || !node.shared.is_empty();
    };
    let (level, next) = match rest.split_once('/') {
        Some((level, next)) => (level, Some(next)),
        None => (rest, None),
    };
    node.children.get(level).is_some_and(|child| any_match(child, next, false, system))
        || (wildcards
            && node.plus.as_deref().is_some_and(|plus| any_match(plus, next, false, system)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn matched(tree: &SubscriptionTree<u32, ()>, topic: &str) -> Vec<u32> {
        let mut out = Vec::new();
        tree.for_each_match(topic, |k, _| out.push(*k));
        out.sort_unstable();
        out
    }

    #[test]
    fn has_match_agrees_with_matching() {
        let mut tree = SubscriptionTree::new();
        tree.insert("a/+/c", None, 1, ());
        tree.insert("b/#", None, 2, ());
        tree.insert("#", None, 3, ());
        tree.insert("$aws/events/#", Some("g"), 4, ());
        tree.insert("$x/y", None, 5, ());
        for topic in ["a/b/c", "b", "b/x/y", "z", "$aws/events/presence/connected/c1", "$x/y"] {
            assert!(tree.has_match(topic), "{topic}");
        }
        for topic in ["$aws/things/t/shadow/get", "$x/z", "$x"] {
            assert!(!tree.has_match(topic), "{topic}");
            assert!(matched(&tree, topic).is_empty(), "{topic}");
        }
        let mut empty: SubscriptionTree<u32, ()> = SubscriptionTree::new();
        assert!(!empty.has_match("a"));
        empty.insert("a/b", None, 1, ());
        assert!(!empty.has_match("a"));
        assert!(empty.has_match("a/b"));
    }

    #[test]
    fn wildcards_match_as_specified() {
        let mut tree = SubscriptionTree::new();
        tree.insert("a/b", None, 1, ());
        tree.insert("a/+", None, 2, ());
        tree.insert("a/#", None, 3, ());
        tree.insert("#", None, 4, ());
        tree.insert("+/b", None, 5, ());
        tree.insert("$aws/#", None, 6, ());
        assert_eq!(matched(&tree, "a/b"), vec![1, 2, 3, 4, 5]);
        assert_eq!(matched(&tree, "a"), vec![3, 4]);
        assert_eq!(matched(&tree, "a/b/c"), vec![3, 4]);
        assert_eq!(matched(&tree, "$aws/things/x"), vec![6]);
        assert_eq!(matched(&tree, "$SYS/b"), Vec::<u32>::new());
    }

    #[test]
    fn insert_replaces_and_remove_prunes() {
        let mut tree = SubscriptionTree::new();
        assert!(!tree.insert("a/+/c", None, 1, 'x'));
        assert!(tree.insert("a/+/c", None, 1, 'y'));
        assert_eq!(tree.len(), 1);
        let mut seen = Vec::new();
        tree.for_each_match("a/b/c", |_, v| seen.push(*v));
        assert_eq!(seen, vec!['y']);
        assert_eq!(tree.remove("a/+/c", None, &1), Some('y'));
        assert_eq!(tree.remove("a/+/c", None, &1), None);
        assert!(tree.is_empty());
        assert!(tree.root.is_empty());
    }

    #[test]
    fn shared_groups_deliver_to_one_member_round_robin() {
        let mut tree = SubscriptionTree::new();
        tree.insert("s/#", Some("g"), 1, ());
        tree.insert("s/#", Some("g"), 2, ());
        tree.insert("s/x", Some("h"), 3, ());
        let mut counts = [0; 4];
        for _ in 0..10 {
            let hits = matched(&tree, "s/x");
            assert_eq!(hits.len(), 2);
            for k in hits {
                counts[k as usize] += 1;
            }
        }
        assert_eq!(counts, [0, 5, 5, 10]);
        tree.remove("s/#", Some("g"), &1);
        assert_eq!(matched(&tree, "s/x"), vec![2, 3]);
    }
}
