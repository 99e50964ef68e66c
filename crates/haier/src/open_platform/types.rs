//! Wire types of the Haier Open Platform (protocol §1), with the vendor's
//! exact field names.
//!
//! Requests serialize to the body the vendor expects; replies deserialize
//! leniently (unknown fields are ignored, missing optional fields are
//! `None`, codes may come as numbers or strings) but strictly where a wrong
//! reading would cost money or stock: prices are read as exact decimals and
//! a stock level must be a non-negative integer.
//!
//! Every type also works the other way round (requests deserialize, replies
//! serialize) so a simulator can speak the same wire format. Decimal fields
//! are written back as JSON numbers with their exact digits.

use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::product_code::ProductCode;
use crate::wire;

/// `grant_type` of the token request.
pub const GRANT_TYPE: &str = "client_credentials";
/// `searchType` of H1: 普通 (ordinary) JSH search.
pub const SEARCH_TYPE: &str = "PTJSH";
/// `priceType` of H2: the ordinary (普通) price.
pub const PRICE_TYPE: &str = "PT";
/// `source` of H3.
pub const STOCK_SOURCE: &str = "JSH-B";

// ---------------------------------------------------------------------------
// Token

/// Token request body (`POST {token_url}`, JSON):
/// `{"client_id","client_secret","grant_type":"client_credentials"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRequest {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    #[serde(serialize_with = "wire::expose")]
    pub client_secret: SecretString,
    /// `grant_type`: always [`GRANT_TYPE`].
    pub grant_type: String,
}

/// Token reply. The token is the first non-empty of `access_token`,
/// `token`, `data.access_token` and `data.token`; `token_type` and
/// `expires_in` are read at the top level, then under `data`.
///
/// Known shapes: `{"access_token":"…","token_type":"Bearer","expires_in":7200}`,
/// `{"token":"eyJ…","expires_in":3600}` and `{"data":{"access_token":"…"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenReply {
    /// `access_token`.
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// `token`.
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `token_type`, e.g. "Bearer". The vendor's document (v1.0.10) sends
    /// none, and the client does not use it: the scheme of business calls
    /// is configuration (`haier.auth_scheme`, default the bare token).
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// `expires_in`: lifetime in seconds (a number or a numeric string).
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// `data`: the same fields, nested. Ignored unless it is an object.
    #[serde(
        default,
        deserialize_with = "nested_token_reply",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<Box<TokenReply>>,
}

fn nested_token_reply<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<TokenReply>>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        Some(value @ serde_json::Value::Object(_)) => serde_json::from_value(value)
            .map(|r| Some(Box::new(r)))
            .map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}

impl TokenReply {
    /// The default `token_type`.
    pub const DEFAULT_TOKEN_TYPE: &'static str = "Bearer";
    /// The default `expires_in`, in seconds.
    pub const DEFAULT_EXPIRES_IN: u64 = 3600;

    fn non_empty(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The token: the first non-empty of `access_token`, `token`,
    /// `data.access_token`, `data.token`.
    pub fn token(&self) -> Option<&str> {
        Self::non_empty(&self.access_token)
            .or_else(|| Self::non_empty(&self.token))
            .or_else(|| {
                self.data.as_ref().and_then(|d| {
                    Self::non_empty(&d.access_token).or_else(|| Self::non_empty(&d.token))
                })
            })
    }

    /// `token_type` (top level, then `data`), default "Bearer".
    pub fn token_type(&self) -> &str {
        Self::non_empty(&self.token_type)
            .or_else(|| {
                self.data
                    .as_ref()
                    .and_then(|d| Self::non_empty(&d.token_type))
            })
            .unwrap_or(Self::DEFAULT_TOKEN_TYPE)
    }

    /// `expires_in` in seconds (top level, then `data`), default 3600. A
    /// value that is not a non-negative integer counts as absent.
    pub fn expires_in(&self) -> u64 {
        let parse = |v: &Option<String>| Self::non_empty(v).and_then(|s| s.parse::<u64>().ok());
        parse(&self.expires_in)
            .or_else(|| self.data.as_ref().and_then(|d| parse(&d.expires_in)))
            .unwrap_or(Self::DEFAULT_EXPIRES_IN)
    }
}

// ---------------------------------------------------------------------------
// H1 procurable products (可采商品)

/// H1 request body: which of our product codes we may buy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcurableProductsRequest {
    /// `customerCode`: our sold-to code (售达方编码).
    pub customer_code: String,
    /// `sendToCode`: our ship-to code (送达方编码); sent only if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_to_code: Option<String>,
    /// `productCodes`: at most 20 codes; the key is left out to ask for
    /// every procurable model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_codes: Option<Vec<ProductCode>>,
    /// `supplierCode`: the supplier (供货方编码), "1001" = 海尔智家.
    pub supplier_code: String,
    /// `searchType`: always [`SEARCH_TYPE`].
    pub search_type: String,
    /// `passWord` (capital W): the agreed password (约定密码).
    #[serde(rename = "passWord", serialize_with = "wire::expose")]
    pub password: SecretString,
}

/// One H1 item: a model and whether we may buy it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcurableProduct {
    /// `productCode`: the SKU, e.g. "GA0SZC00U". Kept as sent; see
    /// [`code`](Self::code) for the checked form.
    #[serde(default, with = "wire::text")]
    pub product_code: Option<String>,
    /// `productModel`: the model name, e.g. "EC6001-HT3".
    #[serde(default, with = "wire::text")]
    pub product_model: Option<String>,
    /// `productGroupNamd` (sic): the product group (产品组).
    #[serde(rename = "productGroupNamd", default, with = "wire::text")]
    pub product_group_name: Option<String>,
    /// `productBrandName`: the brand, e.g. "海尔".
    #[serde(default, with = "wire::text")]
    pub product_brand_name: Option<String>,
    /// `productImageUrl`: URL of the main image.
    #[serde(default, with = "wire::text")]
    pub product_image_url: Option<String>,
    /// `productLageUrls` (sic): URLs of the product page images, in order;
    /// empty if absent or null.
    #[serde(
        rename = "productLageUrls",
        default,
        deserialize_with = "wire::text_list::deserialize"
    )]
    pub product_page_urls: Vec<String>,
    /// `isSales`: "1" procurable, "0" not. See
    /// [`procurable`](Self::procurable).
    #[serde(default, with = "wire::text")]
    pub is_sales: Option<String>,
    /// `noSalesReason`: why it is not procurable (Chinese text).
    #[serde(default, with = "wire::text")]
    pub no_sales_reason: Option<String>,
}

impl ProcurableProduct {
    /// `productCode` as a checked [`ProductCode`]; `None` if missing or
    /// malformed.
    pub fn code(&self) -> Option<ProductCode> {
        self.product_code
            .as_deref()
            .and_then(|c| ProductCode::parse(c).ok())
    }

    /// `isSales` read as a flag: `Some(true)` for "1", `Some(false)` for "0",
    /// `None` if absent or anything else.
    pub fn procurable(&self) -> Option<bool> {
        sales_flag(self.is_sales.as_deref())
    }
}

fn sales_flag(value: Option<&str>) -> Option<bool> {
    match value.map(str::trim) {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// H2 prices (价格)

/// H2 request body: prices of up to 20 products.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricesRequest {
    /// `customerCode`: our sold-to code.
    pub customer_code: String,
    /// `sendToCode`: our ship-to code (required).
    pub send_to_code: String,
    /// `productCodes`: 1 to 20 codes.
    pub product_codes: Vec<ProductCode>,
    /// `priceType`: always [`PRICE_TYPE`].
    pub price_type: String,
    /// `passWord` (capital W): the agreed password.
    #[serde(rename = "passWord", serialize_with = "wire::expose")]
    pub password: SecretString,
}

/// One H2 item: the prices of one product, in yuan (CNY).
///
/// Decimals are read exactly as the vendor wrote them, whether as JSON
/// numbers or numeric strings; `null`, `""` or a missing key is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    /// `productCode`: the SKU, as sent. See [`code`](Self::code).
    #[serde(default, with = "wire::text")]
    pub product_code: Option<String>,
    /// `supplyPrice`: the supply price (供价), yuan per unit.
    #[serde(default, with = "wire::decimal")]
    pub supply_price: Option<Decimal>,
    /// `invoicePrice`: the invoice price (开票价), yuan per unit: the supply
    /// price × (1 − `rebateRate`) − `rebateMoney`.
    #[serde(default, with = "wire::decimal")]
    pub invoice_price: Option<Decimal>,
    /// `rebateRate`: the direct discount (直扣) as a fraction of the supply
    /// price, e.g. 0.05; 0 when none (protocol §0.2).
    #[serde(default, with = "wire::decimal")]
    pub rebate_rate: Option<Decimal>,
    /// `rebateMoney`: the per-unit rebate (返利), yuan; 0 if none.
    #[serde(default, with = "wire::decimal")]
    pub rebate_money: Option<Decimal>,
    /// `stockRebatePolicy`: the rebate type as the vendor's integer code
    /// (protocol §0.2): 0 normal (COM), 1 no rebate (BF), 2 firewall (FHQ),
    /// 5 platform pricing ("365"); see [`RebatePolicy`]. A numeric string is
    /// read too; anything else fails this record's decoding.
    #[serde(default, with = "wire::opt_count")]
    pub stock_rebate_policy: Option<u32>,
    /// `reason`: why there is no price, e.g. "商品暂不可采" (not procurable)
    /// or "价格未生效" (price not in effect).
    #[serde(default, with = "wire::text")]
    pub reason: Option<String>,
    /// `isSales`: "1" procurable, "0" not.
    #[serde(default, with = "wire::text")]
    pub is_sales: Option<String>,
}

impl Price {
    /// `productCode` as a checked [`ProductCode`].
    pub fn code(&self) -> Option<ProductCode> {
        self.product_code
            .as_deref()
            .and_then(|c| ProductCode::parse(c).ok())
    }

    /// `isSales` read as a flag ("1"/"0").
    pub fn procurable(&self) -> Option<bool> {
        sales_flag(self.is_sales.as_deref())
    }

    /// `stockRebatePolicy` as a [`RebatePolicy`].
    pub fn rebate_policy(&self) -> Option<RebatePolicy> {
        self.stock_rebate_policy.map(RebatePolicy::from_code)
    }
}

/// The rebate type of an H2 price (`stockRebatePolicy`, an integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebatePolicy {
    /// 0: normal (COM).
    Normal,
    /// 1: no rebate (BF).
    NoRebate,
    /// 2: firewall (FHQ).
    Firewall,
    /// 5: platform pricing ("365").
    PlatformPricing,
    /// A code the vendor's document does not list, kept as sent.
    Other(u32),
}

impl RebatePolicy {
    /// The policy of the vendor's code.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Normal,
            1 => Self::NoRebate,
            2 => Self::Firewall,
            5 => Self::PlatformPricing,
            other => Self::Other(other),
        }
    }

    /// The vendor's integer code.
    pub fn code(self) -> u32 {
        match self {
            Self::Normal => 0,
            Self::NoRebate => 1,
            Self::Firewall => 2,
            Self::PlatformPricing => 5,
            Self::Other(code) => code,
        }
    }

    /// The vendor's short name: COM, BF, FHQ, 365; `None` for an unlisted code.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::Normal => Some("COM"),
            Self::NoRebate => Some("BF"),
            Self::Firewall => Some("FHQ"),
            Self::PlatformPricing => Some("365"),
            Self::Other(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------
// H3 stock (RX库存三方直连)

/// H3 request body: the stock of one product for one delivery county.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRequest {
    /// `salesCode`: our sold-to code.
    pub sales_code: String,
    /// `senderCode`: our ship-to code; sent only if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_code: Option<String>,
    /// `productCode`: one SKU.
    pub product_code: ProductCode,
    /// `countyCode`: the 6-digit national county code (三级地址国标码) of the
    /// delivery address, e.g. "110101".
    pub county_code: String,
    /// `source`: always [`STOCK_SOURCE`].
    pub source: String,
    /// `sellerPassword`: the customer password (客户密码).
    #[serde(serialize_with = "wire::expose")]
    pub seller_password: SecretString,
}

/// The delivery promise of one warehouse (`timelinessData`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeliness {
    /// `cutTime`: the daily order cut-off, e.g. "18:00".
    #[serde(default, with = "wire::text")]
    pub cut_time: Option<String>,
    /// `achieveUserOrderCut`: the promised arrival, e.g. "2025-11-26 18:00".
    #[serde(default, with = "wire::text")]
    pub achieve_user_order_cut: Option<String>,
    /// `hour`: delivery time in hours, e.g. "24".
    #[serde(default, with = "wire::text")]
    pub hour: Option<String>,
    /// `isTranfer` (sic): "1" if the goods are transferred between
    /// warehouses, "0" if not.
    #[serde(rename = "isTranfer", default, with = "wire::text")]
    pub is_transfer: Option<String>,
}

/// One warehouse in the H3 reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseStock {
    /// `secCode`: the storage location (warehouse code), e.g. "HFR2".
    #[serde(default, with = "wire::text")]
    pub sec_code: Option<String>,
    /// `stock`: units available. The vendor sends a string ("30"); a value
    /// that is not a non-negative integer fails decoding (it is never read
    /// as 0).
    #[serde(with = "wire::stock_level")]
    pub stock: u64,
    /// `warehouseGrade`: "0" our own warehouse (本级仓), "1" an upper-level
    /// warehouse (上级仓).
    #[serde(default, with = "wire::text")]
    pub warehouse_grade: Option<String>,
    /// `timelinessData`: the delivery promise.
    #[serde(default)]
    pub timeliness_data: Option<Timeliness>,
}

/// The H3 reply: one entry per warehouse that can serve the county
/// (`{"success":true,"data":[…]}` on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StockReply {
    /// The warehouses, in the vendor's order.
    pub warehouses: Vec<WarehouseStock>,
}

impl StockReply {
    /// Units available over all warehouses (saturating).
    pub fn total(&self) -> u64 {
        self.warehouses
            .iter()
            .fold(0u64, |sum, w| sum.saturating_add(w.stock))
    }

    /// The warehouse with the most stock (the first of equals); `None` if
    /// there is no warehouse.
    pub fn best_warehouse(&self) -> Option<&WarehouseStock> {
        self.warehouses
            .iter()
            .reduce(|best, w| if w.stock > best.stock { w } else { best })
    }
}

// ---------------------------------------------------------------------------
// H4 logistics (物流)

/// H4 request body: the logistics of one order
/// (`orderCode`, e.g. "SO.20190106.000003").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogisticsRequest {
    /// `orderCode`: the vendor's order number (SO code).
    pub order_code: String,
    /// `deliveryRecordCode`: one delivery record (发货单号), e.g.
    /// "SO.20190106.000003.F1"; left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_record_code: Option<String>,
    /// `memberId` (integer); left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<i64>,
    /// `sellerCode`: our sold-to code (the customer code).
    pub seller_code: String,
    /// `sellerPassword`: the customer password (客户密码).
    #[serde(serialize_with = "wire::expose")]
    pub seller_password: SecretString,
}

/// The H4 reply, with the inner records of the vendor's document v1.0.10
/// (protocol §0.2). A missing or `null` list is empty; every text field may be
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogisticsInfo {
    /// `getAllLogisticsInfoByOrderCode`: warehouse and cloud deliveries.
    #[serde(
        rename = "getAllLogisticsInfoByOrderCode",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub all_logistics_info: Vec<DeliveryLogistics>,
    /// `getStockDeliveryLogisticsRecord`: 智汇宝 delivery records.
    #[serde(
        rename = "getStockDeliveryLogisticsRecord",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub delivery_records: Vec<StockDeliveryRecord>,
    /// `getStockDeliveryLogisticsRecordThirdparty`: third-party courier
    /// records.
    #[serde(
        rename = "getStockDeliveryLogisticsRecordThirdparty",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub third_party_records: Vec<ThirdPartyDeliveryRecord>,
}

/// One delivery of `getAllLogisticsInfoByOrderCode[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLogistics {
    /// `deliveryRecordCode`: the delivery record (发货单号).
    #[serde(rename = "deliveryRecordCode", default, with = "wire::text")]
    pub delivery_record_code: Option<String>,
    /// `deliveryCreateTime`: when it was created.
    #[serde(rename = "deliveryCreateTime", default, with = "wire::text")]
    pub delivery_create_time: Option<String>,
    /// `deliveryModel`: B B2B, C B2C, M shared, Q seven-warehouse, S sample, ZLB.
    #[serde(rename = "deliveryModel", default, with = "wire::text")]
    pub delivery_model: Option<String>,
    /// `isTranfer`: (sic) "1" transferred between warehouses.
    #[serde(rename = "isTranfer", default, with = "wire::text")]
    pub is_transfer: Option<String>,
    /// `getStoreOutboundLogisticsInfoResultDto`: the outbound shipments.
    #[serde(
        rename = "getStoreOutboundLogisticsInfoResultDto",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub outbound: Vec<OutboundLogistics>,
    /// `deliveryRecordDetailDtoList`: the goods of the delivery.
    #[serde(
        rename = "deliveryRecordDetailDtoList",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub items: Vec<DeliveryItem>,
}

/// One outbound shipment (`getStoreOutboundLogisticsInfoResultDto[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundLogistics {
    /// `id`: its id.
    #[serde(rename = "id", default, with = "wire::text")]
    pub id: Option<String>,
    /// `logisticsCompanyName`: the carrier.
    #[serde(rename = "logisticsCompanyName", default, with = "wire::text")]
    pub logistics_company_name: Option<String>,
    /// `expNo`: the tracking number.
    #[serde(rename = "expNo", default, with = "wire::text")]
    pub exp_no: Option<String>,
    /// `expNoList`: all tracking numbers.
    #[serde(
        rename = "expNoList",
        default,
        deserialize_with = "wire::text_list::deserialize"
    )]
    pub exp_no_list: Vec<String>,
    /// `deliveryContact`: the driver or courier.
    #[serde(rename = "deliveryContact", default, with = "wire::text")]
    pub delivery_contact: Option<String>,
    /// `deliveryPhone`: their phone.
    #[serde(rename = "deliveryPhone", default, with = "wire::text")]
    pub delivery_phone: Option<String>,
    /// `vehicleInformation`: the vehicle.
    #[serde(rename = "vehicleInformation", default, with = "wire::text")]
    pub vehicle_information: Option<String>,
    /// `recordCode`: the record.
    #[serde(rename = "recordCode", default, with = "wire::text")]
    pub record_code: Option<String>,
    /// `orderStatus`: the status code.
    #[serde(rename = "orderStatus", default, with = "wire::text")]
    pub order_status: Option<String>,
    /// `orderStatusName`: the status name.
    #[serde(rename = "orderStatusName", default, with = "wire::text")]
    pub order_status_name: Option<String>,
    /// `orderCode`: the order (SO code).
    #[serde(rename = "orderCode", default, with = "wire::text")]
    pub order_code: Option<String>,
    /// `deliveryLogisticsDtos`: the tracking states.
    #[serde(
        rename = "deliveryLogisticsDtos",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub states: Vec<LogisticsState>,
    /// `logisticsUrl`: a tracking page.
    #[serde(rename = "logisticsUrl", default, with = "wire::text")]
    pub logistics_url: Option<String>,
    /// `barcodes`: the serial-number barcodes.
    #[serde(
        rename = "barcodes",
        default,
        deserialize_with = "wire::text_list::deserialize"
    )]
    pub barcodes: Vec<String>,
    /// `sendDate`: when it was sent.
    #[serde(rename = "sendDate", default, with = "wire::text")]
    pub send_date: Option<String>,
}

/// One tracking state (`deliveryLogisticsDtos[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogisticsState {
    /// `stateCode`: e.g. DELIVERED.
    #[serde(rename = "stateCode", default, with = "wire::text")]
    pub state_code: Option<String>,
    /// `stateTime`: when.
    #[serde(rename = "stateTime", default, with = "wire::text")]
    pub state_time: Option<String>,
    /// `stateDescription`: what happened.
    #[serde(rename = "stateDescription", default, with = "wire::text")]
    pub state_description: Option<String>,
}

/// One line of goods (`deliveryRecordDetailDtoList[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryItem {
    /// `itemName`: the product name.
    #[serde(rename = "itemName", default, with = "wire::text")]
    pub item_name: Option<String>,
    /// `itemModel`: the model.
    #[serde(rename = "itemModel", default, with = "wire::text")]
    pub item_model: Option<String>,
    /// `itemUnit`: the unit.
    #[serde(rename = "itemUnit", default, with = "wire::text")]
    pub item_unit: Option<String>,
    /// `shippingQty`: the quantity shipped (as sent).
    #[serde(rename = "shippingQty", default, with = "wire::text")]
    pub shipping_qty: Option<String>,
    /// `itemPictureUrl`: a picture.
    #[serde(rename = "itemPictureUrl", default, with = "wire::text")]
    pub item_picture_url: Option<String>,
}

/// One 智汇宝 record of `getStockDeliveryLogisticsRecord[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockDeliveryRecord {
    /// `logisticsCode`: the logistics code.
    #[serde(rename = "logisticsCode", default, with = "wire::text")]
    pub logistics_code: Option<String>,
    /// `deliveryRecordCode`: the delivery record.
    #[serde(rename = "deliveryRecordCode", default, with = "wire::text")]
    pub delivery_record_code: Option<String>,
    /// `logisticsInfo`: the tracking nodes.
    #[serde(rename = "logisticsInfo", default, deserialize_with = "null_as_empty")]
    pub logistics_info: Vec<StockLogisticsNode>,
    /// `deliveryRecordDetailDtoList`: the goods.
    #[serde(
        rename = "deliveryRecordDetailDtoList",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub items: Vec<DeliveryItem>,
    /// `itemPictureUrl`: a picture.
    #[serde(rename = "itemPictureUrl", default, with = "wire::text")]
    pub item_picture_url: Option<String>,
}

/// One node of a 智汇宝 record (`logisticsInfo[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLogisticsNode {
    /// `vehicleInformation`: the vehicle.
    #[serde(rename = "vehicleInformation", default, with = "wire::text")]
    pub vehicle_information: Option<String>,
    /// `deliveryContact`: the driver.
    #[serde(rename = "deliveryContact", default, with = "wire::text")]
    pub delivery_contact: Option<String>,
    /// `deliveryPhone`: their phone.
    #[serde(rename = "deliveryPhone", default, with = "wire::text")]
    pub delivery_phone: Option<String>,
    /// `statusCode`: the status code.
    #[serde(rename = "statusCode", default, with = "wire::text")]
    pub status_code: Option<String>,
    /// `stateTime`: when.
    #[serde(rename = "stateTime", default, with = "wire::text")]
    pub state_time: Option<String>,
    /// `stateDescription`: what happened.
    #[serde(rename = "stateDescription", default, with = "wire::text")]
    pub state_description: Option<String>,
    /// `stateName`: the status name.
    #[serde(rename = "stateName", default, with = "wire::text")]
    pub state_name: Option<String>,
    /// `createTime`: when recorded.
    #[serde(rename = "createTime", default, with = "wire::text")]
    pub create_time: Option<String>,
}

/// One courier record of `getStockDeliveryLogisticsRecordThirdparty[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThirdPartyDeliveryRecord {
    /// `deliveryRecordCode`: the delivery record.
    #[serde(rename = "deliveryRecordCode", default, with = "wire::text")]
    pub delivery_record_code: Option<String>,
    /// `logisticsNoList`: the courier shipments.
    #[serde(
        rename = "logisticsNoList",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub logistics_no_list: Vec<CourierShipment>,
    /// `deliveryRecordDetailDtoList`: the goods.
    #[serde(
        rename = "deliveryRecordDetailDtoList",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub items: Vec<DeliveryItem>,
}

/// One courier shipment (`logisticsNoList[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourierShipment {
    /// `logisticsNo`: the tracking number.
    #[serde(rename = "logisticsNo", default, with = "wire::text")]
    pub logistics_no: Option<String>,
    /// `logisticsName`: the courier.
    #[serde(rename = "logisticsName", default, with = "wire::text")]
    pub logistics_name: Option<String>,
    /// `logisticsInfo`: the tracking nodes.
    #[serde(rename = "logisticsInfo", default, deserialize_with = "null_as_empty")]
    pub logistics_info: Vec<CourierNode>,
}

/// One courier tracking node (`logisticsInfo[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourierNode {
    /// `nodeName`: the node.
    #[serde(rename = "nodeName", default, with = "wire::text")]
    pub node_name: Option<String>,
    /// `context`: what happened.
    #[serde(rename = "context", default, with = "wire::text")]
    pub context: Option<String>,
    /// `stateTime`: when.
    #[serde(rename = "stateTime", default, with = "wire::text")]
    pub state_time: Option<String>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------
// H5 payer balance (付款方余额)

/// H5 request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceRequest {
    /// `customerCode`: our sold-to code.
    pub customer_code: String,
    /// `customerPassword`: the balance password.
    #[serde(serialize_with = "wire::expose")]
    pub customer_password: SecretString,
}

/// One payer account in the H5 reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayerBalance {
    /// `saleGroupCode`: the sales group (销售组) code.
    #[serde(default, with = "wire::text")]
    pub sale_group_code: Option<String>,
    /// `saleGroupName`: the sales group name.
    #[serde(default, with = "wire::text")]
    pub sale_group_name: Option<String>,
    /// `payerAccountCode`: the payer (付款方) account code.
    #[serde(default, with = "wire::text")]
    pub payer_account_code: Option<String>,
    /// `payerAccountName`: the payer account name.
    #[serde(default, with = "wire::text")]
    pub payer_account_name: Option<String>,
    /// `payerAccountBalance`: the balance in yuan, exact (may be negative).
    #[serde(default, with = "wire::decimal")]
    pub payer_account_balance: Option<Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode_list, decode_one_or_list};
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn token_reply_variants() {
        let r: TokenReply =
            serde_json::from_str(r#"{"token":"eyJhbGciOi.x.y","expires_in":3600}"#).unwrap();
        assert_eq!(r.token(), Some("eyJhbGciOi.x.y"));
        assert_eq!(r.token_type(), "Bearer");
        assert_eq!(r.expires_in(), 3600);

        let r: TokenReply = serde_json::from_str(
            r#"{"success":true,"data":{"access_token":"abc","token_type":"bearer","expires_in":"7200"}}"#,
        )
        .unwrap();
        assert_eq!(r.token(), Some("abc"));
        assert_eq!(r.token_type(), "bearer");
        assert_eq!(r.expires_in(), 7200);

        let r: TokenReply = serde_json::from_str(r#"{"data":{"token":"t"}}"#).unwrap();
        assert_eq!(r.token(), Some("t"));
        assert_eq!(r.expires_in(), 3600);

        // The first non-empty wins.
        let r: TokenReply = serde_json::from_str(
            r#"{"access_token":"","token":"second","data":{"token":"third"}}"#,
        )
        .unwrap();
        assert_eq!(r.token(), Some("second"));

        let r: TokenReply =
            serde_json::from_str(r#"{"access_token":"a","token_type":"MAC","expires_in":-5}"#)
                .unwrap();
        assert_eq!(r.token_type(), "MAC");
        assert_eq!(r.expires_in(), 3600, "a negative lifetime counts as absent");

        let r: TokenReply = serde_json::from_str(r#"{"error":"invalid_client"}"#).unwrap();
        assert_eq!(r.token(), None);
        let r: TokenReply = serde_json::from_str(r#"{"code":500,"data":"oops"}"#).unwrap();
        assert_eq!(r.token(), None);
    }

    #[test]
    fn token_request_body() {
        let req = TokenRequest {
            client_id: "id".into(),
            client_secret: "sec".into(),
            grant_type: GRANT_TYPE.into(),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"client_id":"id","client_secret":"sec","grant_type":"client_credentials"})
        );
        assert!(!format!("{req:?}").contains("sec\""));
    }

    #[test]
    fn h1_request_names_and_optional_keys() {
        let req = ProcurableProductsRequest {
            customer_code: "8800633175".into(),
            send_to_code: None,
            product_codes: None,
            supplier_code: "1001".into(),
            search_type: SEARCH_TYPE.into(),
            password: "pw".into(),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"customerCode":"8800633175","supplierCode":"1001","searchType":"PTJSH","passWord":"pw"})
        );
        assert!(!format!("{req:?}").contains("\"pw\""));
    }

    #[test]
    fn h1_items_with_vendor_spellings() {
        let body = r#"{"success":true,"data":[{
            "productCode":"GA0SZC00U","productModel":"EC6001-HT3","productGroupNamd":"热水器",
            "productBrandName":"海尔","productImageUrl":"https://img/main.jpg",
            "productLageUrls":["https://img/1.jpg","https://img/2.jpg"],
            "isSales":"1","noSalesReason":null,"somethingNew":{"x":1}
        },{"productCode":"BS01U000N","isSales":0,"productLageUrls":null}]}"#;
        let items: Vec<ProcurableProduct> = decode_list("h1_procurable", body.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        let a = &items[0];
        assert_eq!(a.code().unwrap().as_str(), "GA0SZC00U");
        assert_eq!(a.product_model.as_deref(), Some("EC6001-HT3"));
        assert_eq!(a.product_group_name.as_deref(), Some("热水器"));
        assert_eq!(a.product_brand_name.as_deref(), Some("海尔"));
        assert_eq!(
            a.product_page_urls,
            ["https://img/1.jpg", "https://img/2.jpg"]
        );
        assert_eq!(a.procurable(), Some(true));
        assert_eq!(a.no_sales_reason, None);
        let b = &items[1];
        assert_eq!(b.procurable(), Some(false), "a numeric isSales is read too");
        assert!(b.product_page_urls.is_empty());
        assert_eq!(b.product_model, None);

        // Written back with the vendor's spellings.
        let json = serde_json::to_value(a).unwrap();
        assert!(json.get("productGroupNamd").is_some());
        assert!(json.get("productLageUrls").is_some());
    }

    #[test]
    fn h2_prices_exact_rebate_rate_and_integer_policy() {
        let body = r#"[
            {"productCode":"GA0SZC00U","supplyPrice":1999.98,"invoicePrice":0.1,"rebateRate":0.05,
             "rebateMoney":0,"stockRebatePolicy":0,"isSales":"1"},
            {"productCode":"BS01U000N","supplyPrice":"2999.00","invoicePrice":null,
             "rebateRate":0,"stockRebatePolicy":"5","reason":"价格未生效","isSales":"0"},
            {"productCode":"X1"},
            {"productCode":"BAD1","supplyPrice":"价格未生效","stockRebatePolicy":1}
        ]"#;
        let records: crate::Records<Price> =
            crate::wire::decode_records("h2_prices", body.as_bytes()).unwrap();
        let prices = &records.items;
        let a = &prices[0];
        assert_eq!(a.supply_price, Some(dec("1999.98")));
        assert_eq!(a.supply_price.unwrap().to_string(), "1999.98");
        assert_eq!(a.invoice_price.unwrap().to_string(), "0.1");
        assert_eq!(a.rebate_money, Some(Decimal::ZERO));
        assert_eq!(a.rebate_rate, Some(dec("0.05")));
        assert_eq!(a.stock_rebate_policy, Some(0));
        assert_eq!(a.rebate_policy(), Some(RebatePolicy::Normal));
        let b = &prices[1];
        assert_eq!(b.supply_price.unwrap().to_string(), "2999.00");
        assert_eq!(b.invoice_price, None);
        assert_eq!(b.rebate_policy(), Some(RebatePolicy::PlatformPricing));
        assert_eq!(RebatePolicy::PlatformPricing.name(), Some("365"));
        assert_eq!(b.reason.as_deref(), Some("价格未生效"));
        assert_eq!(b.procurable(), Some(false));
        assert_eq!(records.bad.len(), 1);
        assert_eq!(records.bad[0].product_code.as_deref(), Some("BAD1"));
        let c = &prices[2];
        assert_eq!(c.supply_price, None);
        assert_eq!(c.stock_rebate_policy, None);

        // A price that is not a number is a decode error, not None.
        let bad = r#"[{"productCode":"X","supplyPrice":"abc"}]"#;
        assert!(matches!(
            decode_list::<Price>("h2_prices", bad.as_bytes()),
            Err(crate::Error::Decode { .. })
        ));

        // Round trip keeps the digits and writes numbers.
        let json = serde_json::to_string(a).unwrap();
        assert!(json.contains(r#""supplyPrice":1999.98"#), "{json}");
        assert!(json.contains(r#""invoicePrice":0.1"#), "{json}");
    }

    #[test]
    fn h3_real_reply() {
        let body = r#"{"success":true,"data":[
            {"secCode":"HFR2","stock":"30","warehouseGrade":"0",
             "timelinessData":{"cutTime":"18:00","achieveUserOrderCut":"2025-11-26 18:00","hour":"24","isTranfer":"0"}},
            {"secCode":"HFR9","stock":"45","warehouseGrade":"1","timelinessData":null},
            {"secCode":"HFR7","stock":"45","warehouseGrade":"1"}
        ]}"#;
        let reply = StockReply {
            warehouses: decode_list("h3_stock", body.as_bytes()).unwrap(),
        };
        assert_eq!(reply.total(), 120);
        let best = reply.best_warehouse().unwrap();
        assert_eq!(
            best.sec_code.as_deref(),
            Some("HFR9"),
            "the first of equals"
        );
        let first = &reply.warehouses[0];
        assert_eq!(first.stock, 30);
        assert_eq!(first.warehouse_grade.as_deref(), Some("0"));
        let t = first.timeliness_data.as_ref().unwrap();
        assert_eq!(t.cut_time.as_deref(), Some("18:00"));
        assert_eq!(
            t.achieve_user_order_cut.as_deref(),
            Some("2025-11-26 18:00")
        );
        assert_eq!(t.hour.as_deref(), Some("24"));
        assert_eq!(t.is_transfer.as_deref(), Some("0"));

        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json[0]["stock"], "30", "stock is written as a string");
        assert_eq!(json[0]["timelinessData"]["isTranfer"], "0");

        assert_eq!(StockReply::default().total(), 0);
        assert!(StockReply::default().best_warehouse().is_none());
    }

    #[test]
    fn h3_bad_stock_is_a_decode_error() {
        for stock in [r#""abc""#, r#""-3""#, r#""2.5""#, "null", r#""""#] {
            let body = format!(r#"{{"success":true,"data":[{{"secCode":"A","stock":{stock}}}]}}"#);
            assert!(
                matches!(
                    decode_list::<WarehouseStock>("h3_stock", body.as_bytes()),
                    Err(crate::Error::Decode {
                        endpoint: "h3_stock",
                        ..
                    })
                ),
                "{stock}"
            );
        }
    }

    #[test]
    fn h4_request_and_reply() {
        let req = LogisticsRequest {
            order_code: "SO.20190106.000003".into(),
            delivery_record_code: None,
            member_id: Some(42),
            seller_code: "8800633175".into(),
            seller_password: "sp".into(),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"orderCode":"SO.20190106.000003","memberId":42,
                "sellerCode":"8800633175","sellerPassword":"sp"})
        );
        let reply: LogisticsInfo = crate::wire::decode_object(
            "h4_logistics",
            br#"{"success":true,"data":{"getAllLogisticsInfoByOrderCode":[{"deliveryModel":"C"}],
                "getStockDeliveryLogisticsRecord":null}}"#,
        )
        .unwrap();
        assert_eq!(
            reply.all_logistics_info[0].delivery_model.as_deref(),
            Some("C")
        );
        assert!(reply.delivery_records.is_empty());
        assert!(reply.third_party_records.is_empty());
        let bare: LogisticsInfo = crate::wire::decode_object(
            "h4_logistics",
            br#"{"getStockDeliveryLogisticsRecordThirdparty":[{"deliveryRecordCode":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(
            bare.third_party_records[0].delivery_record_code.as_deref(),
            Some("x")
        );
        let empty: LogisticsInfo =
            crate::wire::decode_object("h4_logistics", br#"{"success":true,"data":null}"#).unwrap();
        assert_eq!(empty, LogisticsInfo::default());
        assert!(matches!(
            crate::wire::decode_object::<LogisticsInfo>("h4_logistics", br#"[]"#),
            Err(crate::Error::Decode { .. })
        ));
    }

    #[test]
    fn h5_balance_object_or_list() {
        let one = r#"{"success":true,"data":{"saleGroupCode":"G1","saleGroupName":"冰箱",
            "payerAccountCode":"8800633175","payerAccountName":"某公司","payerAccountBalance":12345.67}}"#;
        let got: Vec<PayerBalance> = decode_one_or_list("h5_balance", one.as_bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payer_account_balance, Some(dec("12345.67")));
        assert_eq!(got[0].sale_group_name.as_deref(), Some("冰箱"));

        let many =
            r#"[{"payerAccountCode":"A","payerAccountBalance":"-10.5"},{"payerAccountCode":"B"}]"#;
        let got: Vec<PayerBalance> = decode_one_or_list("h5_balance", many.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payer_account_balance, Some(dec("-10.5")));
        assert_eq!(got[1].payer_account_balance, None);
    }
}
