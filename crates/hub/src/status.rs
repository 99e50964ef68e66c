//! The statuses of orders, holds, jobs, sync runs and schedules, as enums.
//!
//! Each is stored as its snake_case text (the values the tables have always held, so no
//! data changes) and serialized the same way in the API. A status changes only through
//! its state machine's one function, a compare-and-set on the status it starts from:
//! [`crate::store::orders::transition_order`],
//! [`crate::store::orders::transition_supplier_status`],
//! [`crate::store::holds::move_hold`], [`crate::store::jobs::end_attempt`] (and the claim
//! and redrive beside it) and [`crate::store::sync_runs::finish_run`].

use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// A text value that is not one of a status's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {name}")]
pub struct UnknownStatus {
    /// The status type, e.g. `order status`.
    pub name: &'static str,
    /// The text that was read.
    pub value: String,
}

/// Declares a status enum stored and serialized as snake_case text.
macro_rules! text_status {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every variant's text, comma-separated (for error messages).
            pub fn names() -> String {
                [$($text),+].join(", ")
            }

            /// The stored and serialized text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err(UnknownStatus { name: $what, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl Type<Sqlite> for $name {
            fn type_info() -> SqliteTypeInfo {
                <str as Type<Sqlite>>::type_info()
            }

            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl Encode<'_, Sqlite> for $name {
            fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Sqlite>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $name {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<Sqlite>>::decode(value)?.parse()?)
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<Postgres>>::decode(value)?.parse()?)
            }
        }
    };
}

text_status! {
    /// What a POS transaction is.
    PosKind ("POS transaction kind") {
        /// A sale.
        Sale = "sale",
        /// A refund of part or all of a sale (it names the sale).
        Refund = "refund",
        /// The cancellation of a whole sale (it names the sale).
        Void = "void",
    }
}

text_status! {
    /// Where a POS transaction stands. A sale is `completed`, then `partially_refunded`,
    /// `refunded` or `voided`; a refund or a void is `recorded`. A sale's status changes
    /// only while its row is locked ([`crate::store::pos::lock_sale`]), when a refund or void of it is
    /// recorded.
    PosStatus ("POS transaction status") {
        /// A sale nothing has been refunded of.
        Completed = "completed",
        /// A sale part of which has been refunded.
        PartiallyRefunded = "partially_refunded",
        /// A sale refunded in full.
        Refunded = "refunded",
        /// A voided sale.
        Voided = "voided",
        /// A refund or a void.
        Recorded = "recorded",
    }
}

text_status! {
    /// What a supplier order is.
    SupplierOrderKind ("supplier order kind") {
        /// Goods bought from the supplier.
        Purchase = "purchase",
        /// Goods sent back to the supplier.
        Return = "return",
    }
}

text_status! {
    /// Where a supplier purchase order or return stands: `pending → confirmed → shipped →
    /// delivered`, or `cancelled` from `pending` or `confirmed`. It changes only through
    /// [`crate::store::supplier_orders::change_state`], a compare-and-set on the state
    /// it starts from.
    SupplierOrderState ("supplier order state") {
        /// Sent, not yet confirmed by the supplier.
        Pending = "pending",
        /// Confirmed by the supplier.
        Confirmed = "confirmed",
        /// On its way.
        Shipped = "shipped",
        /// Received.
        Delivered = "delivered",
        /// Cancelled before it shipped.
        Cancelled = "cancelled",
    }
}

impl SupplierOrderState {
    /// Whether an order in this state may move to `to`.
    pub fn can_go_to(self, to: SupplierOrderState) -> bool {
        use SupplierOrderState::{Cancelled, Confirmed, Delivered, Pending, Shipped};
        matches!(
            (self, to),
            (Pending, Confirmed)
                | (Confirmed, Shipped)
                | (Shipped, Delivered)
                | (Pending, Cancelled)
                | (Confirmed, Cancelled)
        )
    }
}

text_status! {
    /// Where an order stands with the storefront.
    OrderStatus ("order status") {
        /// Stock held, awaiting payment.
        Held = "held",
        /// Paid: holds committed, pushed to the supplier if it has supplier lines.
        Paid = "paid",
        /// Cancelled (before payment, or after it with the supplier's agreement).
        Cancelled = "cancelled",
        /// Not paid before its holds ran out.
        Expired = "expired",
    }
}

text_status! {
    /// Where an order stands at the supplier.
    SupplierStatus ("supplier status") {
        /// Nothing to push (local lines only, or not paid yet).
        None = "none",
        /// Paid; the push job is queued or running.
        PushPending = "push_pending",
        /// The supplier took the order (Y1 answered).
        Pushed = "pushed",
        /// The push was refused or dead-lettered.
        PushFailed = "push_failed",
        /// The supplier confirmed the order (callback).
        Confirmed = "confirmed",
        /// The supplier cancelled an order nobody asked it to cancel (callback).
        Rejected = "rejected",
        /// The supplier has no stock for it (callback).
        OutOfStock = "out_of_stock",
        /// The supplier's out-of-stock handling failed (callback).
        OutOfStockFailed = "out_of_stock_failed",
        /// A cancel was asked of the supplier; its answer comes by callback.
        CancelPending = "cancel_pending",
        /// The supplier cancelled the order as asked (callback).
        Cancelled = "cancelled",
        /// The supplier cancelled part of the order (callback).
        PartiallyCancelled = "partially_cancelled",
        /// The supplier refused the cancel (callback, or Y2's answer).
        CancelFailed = "cancel_failed",
        /// The supplier failed to take the order (callback).
        Failed = "failed",
    }
}

text_status! {
    /// Where a hold stands.
    HoldStatus ("hold status") {
        /// Awaiting payment.
        Active = "active",
        /// Paid, awaiting the supplier.
        Committed = "committed",
        /// The supplier or local stock took the units.
        Settled = "settled",
        /// Given back (a cancel, or the supplier refused the order).
        Released = "released",
        /// Given back when the order was not paid in time.
        Expired = "expired",
    }
}

text_status! {
    /// Where an outbox job stands.
    JobStatus ("job status") {
        /// Waiting until it is due.
        Queued = "queued",
        /// Leased by a worker.
        Running = "running",
        /// Finished.
        Done = "done",
        /// Dead-lettered: failed for good, or out of attempts (redrive to retry).
        Dead = "dead",
    }
}

text_status! {
    /// Where a sync run stands.
    RunStatus ("sync run status") {
        /// Recorded, not started.
        Pending = "pending",
        /// Running (or its process died: see the run's `started_at`).
        Processing = "processing",
        /// Every item synced.
        Success = "success",
        /// Nothing synced: the run failed as a whole.
        Failed = "failed",
        /// Some items failed.
        Partial = "partial",
    }
}

text_status! {
    /// What a schedule starts.
    ScheduleKind ("schedule kind") {
        /// Regional stock of the active supplier system, where customers are.
        Stock = "stock",
        /// Prices of the active supplier system.
        Prices = "prices",
        /// The full catalog of the active supplier system, with prices and stock.
        Catalog = "catalog",
        /// A sync of one external system, at its own interval.
        SystemSync = "system_sync",
    }
}

text_status! {
    /// What a schedule's last firing came to.
    FiringOutcome ("firing outcome") {
        /// A run was started and has not ended.
        Started = "started",
        /// No run was started: one was active, or there was nothing to do.
        Skipped = "skipped",
        /// No run could be started (no supplier system, settings that make no client), or
        /// the run it started failed.
        Failed = "failed",
        /// The run it started ended with every item synced.
        Success = "success",
        /// The run it started ended with some items failed.
        Partial = "partial",
    }
}

text_status! {
    /// Where an outbound webhook delivery stands.
    DeliveryStatus ("webhook delivery status") {
        /// An attempt is due (now, or at `next_attempt_at` after a failure).
        Pending = "pending",
        /// The endpoint answered 2xx.
        Succeeded = "succeeded",
        /// Out of attempts, or its endpoint was disabled (retry by hand).
        Dead = "dead",
    }
}

impl OrderStatus {
    /// Whether an order may move from `self` to `to`: a held order is paid, cancelled or
    /// expires; a paid order is cancelled; nothing leaves `cancelled` or `expired`.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Held, Paid | Cancelled | Expired) | (Paid, Cancelled)
        )
    }
}

impl HoldStatus {
    /// Whether a hold may move from `self` to `to`: an active hold is committed (paid,
    /// supplier stock), settled (paid, local stock), released or expires; a committed
    /// hold is settled or released; nothing leaves `settled`, `released` or `expired`.
    pub fn can_become(self, to: HoldStatus) -> bool {
        use HoldStatus::*;
        matches!(
            (self, to),
            (Active, Committed | Settled | Released | Expired) | (Committed, Settled | Released)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_text() {
        for s in SupplierStatus::ALL {
            assert_eq!(s.as_str().parse::<SupplierStatus>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap_or_default(),
                serde_json::json!(s.as_str())
            );
        }
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>(), Ok(*s));
        }
        for s in HoldStatus::ALL {
            assert_eq!(s.as_str().parse::<HoldStatus>(), Ok(*s));
        }
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>(), Ok(*s));
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(s.as_str().parse::<DeliveryStatus>(), Ok(*s));
        }
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
        }
        assert!("shipped".parse::<OrderStatus>().is_err());
    }

    #[test]
    fn ended_orders_and_holds_stay_ended() {
        for to in OrderStatus::ALL {
            assert!(!OrderStatus::Cancelled.can_become(*to));
            assert!(!OrderStatus::Expired.can_become(*to));
        }
        assert!(!OrderStatus::Paid.can_become(OrderStatus::Held));
        for to in HoldStatus::ALL {
            for ended in [
                HoldStatus::Settled,
                HoldStatus::Released,
                HoldStatus::Expired,
            ] {
                assert!(!ended.can_become(*to));
            }
        }
        assert!(!HoldStatus::Committed.can_become(HoldStatus::Active));
    }
}

text_status! {
    /// Where an inbound webhook event stands.
    WebhookEventStatus ("webhook event status") {
        /// Stored; its processing is queued or running.
        Received = "received",
        /// Applied to the records.
        Processed = "processed",
        /// The last attempt failed; another is queued with backoff.
        Failed = "failed",
        /// Out of attempts (dead letter): replay it once the cause is fixed.
        Dead = "dead",
    }
}
